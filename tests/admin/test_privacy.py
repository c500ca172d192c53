"""A 邻里事 or 户里事 is read by its reporter, its owner, its village's 书记 and the 镇领导 only
(handlers.privacy.sees_text): another grid member of the village sees the stub (number, kind,
status, owner, due) in the pages, the API, the ledger and search results; Open311 never gives
those kinds' words to anyone."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlmodel import Session

from bot.app import App
from handlers.privacy import sees_text
from storage import search
from storage.models import Issue
from tests.admin.conftest import issue, logged_in, say
from tests.conftest import Chat

pytestmark = pytest.mark.asyncio
# #2 (matters): 李大妈's 邻里事 in 新联村, owned by 王哥, with a phone number.
SECRET = "隔壁老刘家"
PHONE = ("13812345678", "138****5678")


@pytest_asyncio.fixture
async def private(matters: Chat, app: App) -> Chat:
    await say(matters, "王哥: 进展 2 两家已经见过面，老刘答应改管子")
    with Session(app.engine) as session:  # a photo kept with it
        row = session.get(Issue, issue(app, 2).id)
        assert row is not None
        (app.settings.data_dir / "photo.jpg").write_bytes(b"\xff\xd8 a photo")
        row.attachments = json.dumps([{"kind": "photo", "path": "photo.jpg", "note": "照片"}])
        session.add(row)
        session.commit()
    return matters


def leaks(text: str) -> list[str]:
    return [w for w in (SECRET, "老刘答应", PHONE[0], PHONE[1], "李大妈") if w in text]


async def test_a_grid_member_who_does_not_own_it_sees_the_stub(
    web: FastAPI, private: Chat, app: App
) -> None:
    zhang = await logged_in(web, "张姐")  # 网格员 of 新联村, owner of #1 but not of #2
    try:
        page = await zhang.get("/issues/2")
        assert page.status_code == 200
        assert leaks(page.text) == [] and "内容不公开" in page.text
        assert "#2【邻里事】" in page.text and "王哥" in page.text  # number, kind, owner
        assert "/issues/2/attachments/0" not in page.text
        assert (await zhang.get("/issues/2/attachments/0")).status_code == 404
        # The whole list (a grid member's opens on 我的待办: her own matters only).
        listing = await zhang.get("/issues?view=all")
        assert "#2<" in listing.text and leaks(listing.text) == []
        assert "路灯" in listing.text  # a 村里事 she may read
        api = (await zhang.get("/api/issues")).json()
        two = next(i for i in api["items"] if i["number"] == 2)
        assert two["hidden"] and two["summary"] == "" and two["owner"] == "王哥"
        assert not next(i for i in api["items"] if i["number"] == 1)["hidden"]
        detail = await zhang.get("/api/issues/2")
        assert detail.status_code == 200 and leaks(detail.text) == []
        body = detail.json()
        assert body["hidden"] and body["text"] == "" and body["timeline"] == []
        assert body["status"] == "open" and body["due_at"]
        csv_text = (await zhang.get("/export.csv")).content.decode("utf-8-sig")
        rows = {r[0]: r for r in csv.reader(io.StringIO(csv_text))}
        assert rows["2"][4] == "（内容不公开）" and rows["2"][5] == "" and leaks(csv_text) == []
        assert "路灯" in rows["1"][4]
        sheet = load_workbook(io.BytesIO((await zhang.get("/export.xlsx")).content))["台账"]
        cells = " ".join(str(c) for r in sheet.iter_rows(values_only=True) for c in r if c)
        assert leaks(cells) == [] and "内容不公开" in cells
    finally:
        await zhang.aclose()


async def test_searching_does_not_tell_what_a_private_matter_says(
    web: FastAPI, private: Chat, app: App
) -> None:
    zhang = await logged_in(web, "张姐")
    try:
        for word in ("老刘", "排", "13812345678"):
            listing = await zhang.get(f"/issues?q={word}")
            assert "#2<" not in listing.text and "共 <b>0</b> 件" in listing.text, word
            found = (await zhang.get(f"/api/issues?q={word}")).json()
            assert found["total"] == 0 and found["items"] == [], word
            ledger = (await zhang.get(f"/export.csv?q={word}")).content.decode("utf-8-sig")
            assert len(list(csv.reader(io.StringIO(ledger)))) == 1, word  # the header only
        assert "#1<" in (await zhang.get("/issues?q=路灯")).text  # public words are found
    finally:
        await zhang.aclose()
    for name in ("王哥", "李书记", "陈镇长"):  # owner, 书记, 镇领导: they read and find it
        reader = await logged_in(web, name)
        try:
            page = await reader.get("/issues/2")
            assert SECRET in page.text and "老刘答应" in page.text, name
            assert "/issues/2/attachments/0" in page.text, name
            assert "#2<" in (await reader.get("/issues?q=老刘")).text, name
            assert not (await reader.get("/api/issues/2")).json()["hidden"], name
        finally:
            await reader.aclose()


async def test_the_reporter_reads_their_own_matter(web: FastAPI, app: App, chat: Chat) -> None:
    # 王哥 reports a 户里事 of his own household; 张姐 owns it (户里事 goes to her).
    await say(chat, "王哥: #户里事 我家低保一直没批下来，身份证110101199001011234")
    wang = await logged_in(web, "王哥")
    try:
        number = max(i["number"] for i in (await wang.get("/api/issues")).json()["items"])
        assert (await wang.get(f"/api/issues/{number}")).json()["owner"] == "张姐"
        assert "低保" in (await wang.get(f"/issues/{number}")).text
    finally:
        await wang.aclose()
    zhao = await logged_in(web, "赵书记")  # 石桥村: not even the stub (another village)
    try:
        assert (await zhao.get(f"/issues/{number}")).status_code == 404
    finally:
        await zhao.aclose()


async def test_open311_never_gives_private_words(
    client: httpx.AsyncClient, private: Chat, app: App
) -> None:
    from tests.admin.test_api import bearer

    for name in ("陈镇长", "王哥", "李书记"):  # even those who may read it elsewhere
        auth = bearer(app, name)
        listing = await client.get("/open311/v2/requests.json", headers=auth)
        one = await client.get("/open311/v2/requests/2.json", headers=auth)
        for r in (listing, one):
            assert r.status_code == 200 and leaks(r.text) == [], name
        assert "路灯" in listing.text
    await say(private, "王哥: 办结 2 老刘家改了排水管")
    closed = await client.get(
        "/open311/v2/requests.json?status=closed", headers=bearer(app, "陈镇长")
    )
    assert "老刘家改了" not in closed.text and closed.json()[0]["status_notes"] == "已办结"


async def test_the_search_scope_is_the_privacy_rule() -> None:
    """search.readable is built by asking handlers.privacy.sees_text; spot-check its answers."""
    town = search.Reader(
        key="local:陈镇长", person_id=1, role="镇领导", village_id=None, sees_text=sees_text
    )
    assert search.readable(town) is None  # reads everything: no condition
    grid = search.Reader(
        key="local:张姐", person_id=3, role="网格员", village_id=1, sees_text=sees_text
    )
    sql = str(search.readable(grid))
    assert "issue.kind" in sql and "issue.reporter" in sql and "issue.owner_id" in sql
    assert "issue.village_id" not in sql  # a 网格员's village does not open private words
    secretary = search.Reader(
        key="local:李书记", person_id=2, role="书记", village_id=1, sees_text=sees_text
    )
    assert "issue.village_id" in str(search.readable(secretary))
