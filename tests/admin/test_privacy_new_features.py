"""The privacy rule (handlers.privacy.sees_text) on the admin's new places of issues 17–19: the
ledger's 议事结果 and 回访 columns and the issue page's 回访, for a grid member of another 组 too.
A 邻里事's or 户里事's words go to its reporter, owner, village 书记 and the 镇领导 only; numbers
are masked in the ledger whoever reads it."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from bot.app import App
from storage.models import AdminLogin, Person
from tests.admin.conftest import _hash, logged_in, say
from tests.conftest import Chat

pytestmark = pytest.mark.asyncio
VISIT = "已上门，老刘改了管子，有事打13812345678"


def may_log_in(app: App, *names: str) -> None:
    with Session(app.engine) as session:
        for name in names:
            person = session.exec(select(Person).where(Person.name == name)).one()
            session.add(
                AdminLogin(person_id=person.id or 0, password_hash=_hash(), set_at=app.clock.now())
            )
        session.commit()


async def ledger(web: FastAPI, name: str) -> dict[str, dict[str, str]]:
    client = await logged_in(web, name)
    try:
        text = (await client.get("/export.csv")).content.decode("utf-8-sig")
    finally:
        await client.aclose()
    return {r["编号"]: r for r in csv.DictReader(io.StringIO(text))}


async def test_the_ledgers_visit_column_follows_who_reads_the_matter(
    web: FastAPI, matters: Chat, app: App
) -> None:
    # #2: 李大妈's 邻里事 in 新联村, owned by 王哥; closed and visited.
    await say(matters, "@dm\n王哥: 办结 2 两家说好了")
    await say(matters, f"@dm\n王哥: 回访 2 {VISIT}")
    for reader in ("王哥", "李书记", "陈镇长"):
        row = (await ledger(web, reader))["2"]
        assert "老刘改了管子" in row["回访"], reader
        assert "13812345678" not in row["回访"] and "138****5678" in row["回访"]
    # 张姐, a grid member of 新联村 who does not own it: the stub, no visit.
    row = (await ledger(web, "张姐"))["2"]
    assert row["回访"] == "" and "老刘" not in row["内容"]


async def test_a_grid_member_of_another_team_sees_a_disputes_stub_and_no_visit(
    web: FastAPI, chat: Chat, app: App
) -> None:
    await say(chat, "@in 石桥村说事群\n老马: 我是三组的")
    await say(chat, "老马: #邻里事 隔壁的牛吃了我家的菜")  # #1 → 孙组长 (三组)
    await say(chat, "@dm\n孙组长: 办结 1 赔了两百块")
    await say(chat, "@dm\n孙组长: 回访 1 两家和好了")
    may_log_in(app, "周大姐", "孙组长")
    zhou = await logged_in(web, "周大姐")  # 十户长 of 三组 too, but 户里事 only: no reader
    try:
        page = (await zhou.get("/issues/1")).text
        assert "#1" in page and "牛吃了" not in page
        assert "赔了两百块" not in page and "两家和好了" not in page
    finally:
        await zhou.aclose()
    for reader in ("赵书记", "孙组长"):
        client = await logged_in(web, reader)
        try:
            page = (await client.get("/issues/1")).text
            assert "牛吃了" in page and "两家和好了" in page, reader
        finally:
            await client.aclose()
