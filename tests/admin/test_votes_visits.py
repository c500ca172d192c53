"""议事 and 回访 on the issue page: the 书记 starts a vote with the small form (the same code as
the 议事 command), the page shows its result and the timeline says 议事结果; the owner records a
回访 there and the page counts the village's visits."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from bot.app import App
from tests.admin.conftest import events, login, outbox, post_form, say
from tests.conftest import Chat

pytestmark = pytest.mark.asyncio


async def test_a_secretary_starts_a_vote_from_the_issue_page_and_sees_its_result(
    client: httpx.AsyncClient, app: App, chat: Chat
) -> None:
    await say(chat, "张大爷: #村里事 村口的路坑坑洼洼，下雨全是泥")
    await login(client, "李书记")
    page = "/issues/1"
    assert 'action="/issues/1/vote"' in (await client.get(page)).text
    await post_form(
        client,
        page,
        "/issues/1/vote",
        {"question": "修村口路每户出工两天", "choices": "同意/不同意", "span": "2天"},
    )
    assert events(app, 1)[-1][:2] == ("vote", "李书记")
    group = [m for m in outbox(app) if m.category == "vote" and m.recipient == "新联村说事群"]
    assert group and "修村口路每户出工两天" in group[0].text
    await say(chat, "张大爷: 同意\n李大妈: 1\n老周: 2")
    await say(chat, "@wait 2d 1h")
    await login(client, "李书记")  # the session of two days ago has ended
    shown = (await client.get(page)).text
    assert "同意：2票" in shown and "不同意：1票" in shown and "议事结果" in shown


async def test_a_grid_member_sees_no_vote_form(client: httpx.AsyncClient, chat: Chat) -> None:
    await say(chat, "张大爷: #村里事 村口的路坑坑洼洼")
    await login(client, "张姐")
    assert 'action="/issues/1/vote"' not in (await client.get("/issues/1")).text


async def test_the_owner_records_a_visit_from_the_issue_page(
    client: httpx.AsyncClient, app: App, chat: Chat
) -> None:
    await say(chat, "李大妈: #户里事 我家屋顶漏雨\n张姐: 认领 1\n张姐: 办结 1 已帮忙补好屋顶")
    await say(chat, "@wait 7d 1h")
    await login(client, "张姐")  # after the wait: a session of its own
    page = "/issues/1"
    shown = (await client.get(page)).text
    assert 'action="/issues/1/visit"' in shown and "到期未回访 1 件" in shown
    await post_form(client, page, "/issues/1/visit", {"note": "已上门，屋顶不漏了"})
    assert events(app, 1)[-1] == ("visit", "张姐", "已上门，屋顶不漏了")
    shown = (await client.get(page)).text
    assert "已完成 1 件" in shown and "已上门，屋顶不漏了" in shown


async def test_the_ledger_has_the_vote_result_and_the_visit(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    await say(
        chat,
        "张大爷: #村里事 村口的路坑坑洼洼\n"
        "李书记: 议事 1 修村口路 同意/不同意 1天\n"
        "张大爷: 同意\n"
        "李大妈: #户里事 我家屋顶漏雨\n"
        "张姐: 认领 2\n"
        "张姐: 办结 2 已帮忙补好屋顶\n"
        "张姐: 回访 2 已上门，电话13812345678",
    )
    await say(chat, "@wait 1d 1h")
    await login(client, "李书记")
    r = await client.get("/export.csv?sort=old")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header = rows[0]
    vote_col, visit_col = header.index("议事结果"), header.index("回访")
    assert "修村口路" in rows[1][vote_col] and "同意：1票" in rows[1][vote_col]
    assert "已上门" in rows[2][visit_col] and "138****5678" in rows[2][visit_col]
