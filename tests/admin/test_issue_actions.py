"""The issue pages as cadres work them (issue 17): 认领 on the page and in the list, the list
opening on 我的待办 for a grid member with the time left of each matter, 20 to a page, bulk
actions for 书记 and 镇领导, and a village's canned replies (常用回复)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from bot.app import App
from handlers import actions
from handlers.actions import Ctx
from handlers.clock import FakeClock
from storage.models import Person, Village
from tests.admin.conftest import (
    events,
    issue,
    last_outbox_id,
    logged_in,
    login,
    outbox,
    post_form,
    say,
    sqlite_only,
)
from tests.conftest import Chat

pytestmark = pytest.mark.asyncio


def person_id(app: App, name: str) -> int:
    with Session(app.engine) as session:
        return session.exec(select(Person).where(Person.name == name)).one().id or 0


def numbers_listed(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<a class="open" href="/issues/(\d+)"', html)]


async def test_claim_on_the_issue_page_and_in_the_list(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    await login(client, "张姐")  # owns #1 (路灯), not yet claimed
    page = (await client.get("/issues/1")).text
    assert 'action="/issues/1/claim"' in page
    r = await post_form(client, "/issues/1", "/issues/1/claim", {})
    assert r.headers["location"] == "/issues/1"
    assert issue(app, 1).status == "claimed" and ("claimed", "张姐", "") in events(app, 1)
    assert 'action="/issues/1/claim"' not in (await client.get("/issues/1")).text

    await say(matters, "老周: 村东头水沟堵了，下雨就淹路")  # #4
    listing = (await client.get("/issues?view=all&kind=村里事")).text
    assert 'action="/issues/4/claim"' in listing and 'action="/issues/1/claim"' not in listing
    back = "/issues?view=all&kind=村里事"
    r = await post_form(client, back, "/issues/4/claim", {"back": back})
    assert unquote(r.headers["location"]) == back  # back to the list as it was filtered
    assert issue(app, 4).status == "claimed" and issue(app, 4).owner_id == person_id(app, "张姐")
    r = await post_form(client, back, "/issues/1/claim", {"back": "https://elsewhere.example/"})
    assert r.headers["location"] == "/issues/1"  # never sent off the site


async def test_a_grid_member_opens_on_their_own_to_do_with_time_left(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    await login(client, "王哥")  # owns #2 (邻里事); #1 is 张姐's
    mine = (await client.get("/issues")).text
    assert numbers_listed(mine) == [2] and "我的待办" in mine
    assert "剩余 " in mine and "天" in mine
    everything = (await client.get("/issues?view=all")).text
    assert sorted(numbers_listed(everything)) == [1, 2]
    await login(client, "李书记")  # a 书记 supervises: everything
    assert sorted(numbers_listed((await client.get("/issues")).text)) == [1, 2]

    assert isinstance(app.clock, FakeClock)
    app.clock.advance(timedelta(days=20))  # past every time limit
    await login(client, "王哥")
    late = (await client.get("/issues")).text
    found = re.search(r"超期 (\d+)天", late)
    assert found and int(found.group(1)) >= 1 and "剩余 " not in late
    export = (await client.get("/issues")).text
    assert "owner=" in re.search(r'href="/export.csv\?([^"]*)"', export).group(1)  # type: ignore[union-attr]


@sqlite_only
async def test_twenty_to_a_page(client: httpx.AsyncClient, chat: Chat, app: App) -> None:
    with Session(app.engine) as session:  # 25 matters (distinct: no duplicate detection)
        ctx = Ctx(session, app.deps, app.clock.now())
        village = session.exec(select(Village).where(Village.name == "新联村")).one()
        for i in range(25):
            actions.create_issue(
                ctx,
                village_id=village.id or 0,
                group_id=None,
                kind="村里事",
                text=f"第{i}件事",
                reporter_key=f"local:村民{i}",
                reporter_name=f"村民{i}",
                reporter_chat=None,
            )
        session.commit()
    await login(client, "李书记")
    first = (await client.get("/issues?view=all")).text
    total = int(re.search(r"共 <b>(\d+)</b> 件", first).group(1))  # type: ignore[union-attr]
    assert total > 20
    assert len(numbers_listed(first)) == 20 and 'rel="next"' in first
    second = (await client.get("/issues?view=all&page=2")).text
    assert len(numbers_listed(second)) == total - 20
    assert not set(numbers_listed(first)) & set(numbers_listed(second))


async def test_bulk_assign_due_and_close(
    client: httpx.AsyncClient, web: FastAPI, matters: Chat, app: App
) -> None:
    await say(matters, "老周: 村东头水沟堵了，下雨就淹路")  # #4, 新联村
    await login(client, "李书记")
    listing = (await client.get("/issues")).text
    assert 'action="/issues/bulk"' in listing and 'name="numbers" value="4"' in listing

    wang = str(person_id(app, "王哥"))
    r = await post_form(
        client,
        "/issues",
        "/issues/bulk",
        {"action": "assign", "numbers": ["1", "4"], "person": wang, "back": "/issues"},  # type: ignore[dict-item]
    )
    assert r.headers["location"] == "/issues"
    assert issue(app, 1).owner_id == issue(app, 4).owner_id == int(wang)
    assert events(app, 4)[-1] == ("assigned", "李书记", "王哥")

    await post_form(
        client,
        "/issues",
        "/issues/bulk",
        {"action": "due", "numbers": ["1", "4"], "due": "2026-11-26T18:00"},  # type: ignore[dict-item]
    )
    for n in (1, 4):
        assert issue(app, n).due_at.astimezone(app.clock.tz).day == 26

    mark = last_outbox_id(app)
    await post_form(
        client,
        "/issues",
        "/issues/bulk",
        {"action": "close", "numbers": ["1", "4", "3"], "result": "已统一维修"},  # type: ignore[dict-item]
    )
    assert issue(app, 1).status == issue(app, 4).status == "closed"
    assert issue(app, 1).result == issue(app, 4).result == "已统一维修"
    assert issue(app, 3).status == "open"  # 石桥村's: not 李书记's to close
    told = [m for m in outbox(app, mark) if "已统一维修" in m.text]
    assert {m.mention for m in told if not m.private} >= {"local:张大爷", "local:老周"}
    flashed = (await client.get("/issues")).text
    assert "已办 2 件" in flashed and "#3" in flashed

    # A grid member has no bulk actions, and a forged one changes nothing.
    zhang = await logged_in(web, "张姐")
    try:
        assert 'action="/issues/bulk"' not in (await zhang.get("/issues?view=all")).text
        before = events(app, 2)
        await post_form(
            zhang, "/issues", "/issues/bulk", {"action": "close", "numbers": "2", "result": "x"}
        )
        assert events(app, 2) == before
    finally:
        await zhang.aclose()


async def test_canned_replies_kept_by_the_secretary_offered_on_the_forms(
    client: httpx.AsyncClient, web: FastAPI, matters: Chat, app: App
) -> None:
    await login(client, "李书记")
    await post_form(
        client, "/canned", "/canned", {"purpose": "note", "text": "已联系施工队，三天内修好"}
    )
    await post_form(
        client, "/canned", "/canned", {"purpose": "close", "text": "已修好，请大家放心"}
    )
    kept = (await client.get("/canned")).text
    assert "已联系施工队，三天内修好" in kept and "已修好，请大家放心" in kept

    zhang = await logged_in(web, "张姐")  # a grid member uses them, the 书记 keeps them
    try:
        assert (await zhang.get("/canned")).status_code == 403
        page = (await zhang.get("/issues/1")).text
        note_id = re.search(r'<option value="(\d+)">已联系施工队，三天内修好</option>', page)
        close_id = re.search(r'<option value="(\d+)">已修好，请大家放心</option>', page)
        assert note_id and close_id
        await post_form(
            zhang, "/issues/1", "/issues/1/note", {"text": "", "canned": note_id.group(1)}
        )
        assert events(app, 1)[-1] == ("note", "张姐", "已联系施工队，三天内修好")
        # A note id offered for a close is not a result.
        await post_form(
            zhang, "/issues/1", "/issues/1/close", {"result": "", "canned": note_id.group(1)}
        )
        assert issue(app, 1).status == "open"
        await post_form(
            zhang, "/issues/1", "/issues/1/close", {"result": "", "canned": close_id.group(1)}
        )
        assert issue(app, 1).status == "closed" and issue(app, 1).result == "已修好，请大家放心"
    finally:
        await zhang.aclose()

    zhao = await logged_in(web, "赵书记")  # 石桥村: another village's replies are not offered
    try:
        assert "已修好，请大家放心" not in (await zhao.get("/issues/3")).text
        assert "已修好，请大家放心" not in (await zhao.get("/canned")).text
    finally:
        await zhao.aclose()

    removed = re.search(
        r'已联系施工队，三天内修好\s*<form method="post" action="/canned/(\d+)/delete"',
        (await client.get("/canned")).text,
    )
    assert removed
    await post_form(client, "/canned", f"/canned/{removed.group(1)}/delete", {})
    assert "已删除常用回复" in (await client.get("/canned")).text
    assert "已联系施工队" not in (await client.get("/canned")).text
