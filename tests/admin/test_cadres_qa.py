"""What a QA pass of issue 17 found, as cadres use the admin: the navigation offers only pages
the person may open, bulk 指派 follows the same rule as one at a time, and the status page
shows a 书记 only their own villages' people."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session

from bot.app import App
from storage.models import Inbound, Outbox
from tests.admin.conftest import (
    issue,
    last_outbox_id,
    logged_in,
    login,
    outbox,
    post_form,
)
from tests.admin.test_issue_actions import person_id
from tests.conftest import Chat

pytestmark = pytest.mark.asyncio


async def test_a_grid_member_is_not_offered_the_web_chat_they_may_not_open(
    client: httpx.AsyncClient, web: FastAPI
) -> None:
    await login(client, "张姐")
    page = (await client.get("/issues")).text
    assert 'href="/chat"' not in page
    assert (await client.get("/chat")).status_code == 403
    li = await logged_in(web, "李书记")
    try:
        assert 'href="/chat"' in (await li.get("/issues")).text
    finally:
        await li.aclose()


async def test_the_web_chat_refusal_says_what_the_chat_does_now(
    client: httpx.AsyncClient,
) -> None:
    """The chat no longer speaks as anyone: the refusal and the log-in hint must not say so."""
    await login(client, "张姐")
    refused = (await client.get("/chat")).text
    assert "只给书记和镇领导用" in refused and "任何人" not in refused
    client.cookies.clear()
    hint = (await client.get("/login?next=/chat")).text
    assert "任何人" not in hint


async def test_bulk_assign_follows_the_one_rule_of_who_may_take_a_matter(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    """#2 is a 邻里事: its page lets 李书记 give it to the town's mediator, so the list's bulk
    指派 does too; and the list offers him."""
    await login(client, "李书记")
    wu = str(person_id(app, "吴律师"))
    listing = (await client.get("/issues")).text
    assert f'<option value="{wu}">' in listing.split('id="bulk"')[1].split("</form>")[0]
    data = {"action": "assign", "numbers": "2", "person": wu, "back": "/issues"}
    await post_form(client, "/issues", "/issues/bulk", data)
    assert issue(app, 2).owner_id == int(wu)
    # Not for a 村里事: refused with the names that may be chosen, as one at a time.
    data = {"action": "assign", "numbers": "1", "person": wu, "back": "/issues"}
    await post_form(client, "/issues", "/issues/bulk", data)
    assert issue(app, 1).owner_id == person_id(app, "张姐")
    flashed = (await client.get("/issues")).text
    assert "#1" in flashed and "可指派：" in flashed and "张姐" in flashed


def _failures_in_shiqiao(app: App) -> None:
    """A post of 石桥村's group whose handling failed and an answer to it that was not sent."""
    now = app.clock.now()
    with Session(app.engine) as session:
        session.add(
            Inbound(
                platform="local",
                chat="石桥村说事群",
                message_id="broken",
                sender="local:老赵",
                sender_name="老赵",
                text="水渠又堵了",
                received_at=now,
                status="failed",
                tries=3,
                error="处理出错",
            )
        )
        session.add(
            Outbox(
                platform="local",
                chat="石桥村说事群",
                recipient="石桥村说事群",
                mention="local:钱大娘",
                text="@钱大娘 已登记",
                created_at=now,
                not_before=now,
                status="failed",
                last_error="发送失败",
            )
        )
        session.commit()


async def test_the_status_page_shows_a_secretary_only_their_villages_people(
    client: httpx.AsyncClient, web: FastAPI, app: App
) -> None:
    """Who could not be answered and whose post failed are names of villagers: a 书记 reads
    those of their own village; the 镇领导 all of them."""
    _failures_in_shiqiao(app)
    await login(client, "李书记")  # 新联村
    page = (await client.get("/status")).text
    assert "老赵" not in page and "钱大娘" not in page and "石桥村说事群" not in page
    chen = await logged_in(web, "陈镇长")
    try:
        page = (await chen.get("/status")).text
        assert "老赵" in page and "石桥村说事群" in page
    finally:
        await chen.aclose()


async def test_the_one_a_matter_was_given_to_hears_when_another_claims_it(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    """#2 waits for 王哥 to claim it; 张姐 claims it in the list: 王哥 must know to stop (his
    new-matter message still asks him to claim it), as when a 书记 gives it to someone else."""
    await login(client, "张姐")
    mark = last_outbox_id(app)
    await post_form(client, "/issues?view=all", "/issues/2/claim", {"back": "/issues?view=all"})
    assert issue(app, 2).owner_id == person_id(app, "张姐")
    told = [m for m in outbox(app, mark) if m.private and m.recipient == "王哥"]
    assert told and "张姐" in told[0].text and "#2" in told[0].text and "不用再办" in told[0].text
    # Claiming one's own matter tells nobody else.
    mark = last_outbox_id(app)
    await post_form(client, "/issues?view=all", "/issues/1/claim", {"back": "/issues?view=all"})
    assert [m for m in outbox(app, mark) if m.private] == []


async def test_the_status_pages_technical_details_are_named_in_chinese(
    client: httpx.AsyncClient,
) -> None:
    await login(client, "李书记")
    page = (await client.get("/status")).text
    details = page.split('id="tech"')[1]
    assert "configured：" not in details and "已配置：" in details
