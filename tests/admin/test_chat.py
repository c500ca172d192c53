"""模拟群聊: posting and pressing buttons on the web page go through the real intake, and the
bot's answers appear in the group and private views."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from admin.app import create_app, welcome
from bot.app import App
from storage.models import Outbox
from tests.admin.conftest import csrf_of, events, issue, sqlite_only

pytestmark = pytest.mark.asyncio
GROUP = "新联村说事群"


async def post(client: httpx.AsyncClient, name: str, text: str, **extra: str) -> httpx.Response:
    page = await client.get(f"/chat?group={GROUP}&as={name}")
    return await client.post(
        "/chat/post",
        data={"csrf": csrf_of(page.text), "name": name, "group": GROUP, "text": text, **extra},
    )


async def press(client: httpx.AsyncClient, name: str, message: int, label: str) -> None:
    page = await client.get(f"/chat?group={GROUP}&as={name}")
    r = await client.post(
        "/chat/press",
        data={
            "csrf": csrf_of(page.text),
            "name": name,
            "group": GROUP,
            "message": str(message),
            "label": label,
        },
    )
    assert r.status_code == 303


def sent(app: App) -> list[Outbox]:
    with Session(app.engine) as session:
        return list(session.exec(select(Outbox).where(Outbox.status == "sent")))


@sqlite_only
async def test_post_press_and_see_the_replies(client: httpx.AsyncClient, app: App) -> None:
    r = await post(client, "张大爷", "村口路灯坏了好几天了，晚上黑乎乎的")
    assert r.status_code == 303 and r.headers["location"].endswith("#end")
    page = (await client.get(r.headers["location"])).text
    assert "村口路灯坏了好几天了" in page and "已登记 #1" in page and "@张大爷" in page
    assert all(row.platform_message_id for row in sent(app))  # delivered at once
    # 张姐's private view shows her notice with its buttons; she presses 认领.
    mine = (await client.get(f"/chat?group={GROUP}&as=张姐")).text
    private = mine[mine.index("张姐的私聊") :]
    assert "新事项 #1" in private and ">认领</button>" in private
    notice = next(m for m in sent(app) if m.private and m.recipient == "张姐")
    await press(client, "张姐", notice.id or 0, "认领")
    assert issue(app, 1).status == "claimed"
    assert ("claimed", "张姐", "") in events(app, 1)
    assert "已由张姐认领" in (await client.get(f"/chat?group={GROUP}&as=张姐")).text
    # A villager pressing a cadre's button gets the handler's refusal shown.
    await press(client, "王婶", notice.id or 0, "认领")
    assert "只有网格员和村干部能认领" in (await client.get(f"/chat?group={GROUP}&as=王婶")).text
    # Private posts and replies to the bot's messages.
    ack = next(m for m in sent(app) if not m.private and "#1" in m.text)
    await post(client, "张姐", "已经联系电工了", reply_to=ack.platform_message_id or "")
    assert events(app, 1)[-1][:2] == ("note", "张姐")
    await post(client, "张姐", "办结 1 已换新灯泡", private="1")
    assert issue(app, 1).status == "closed"
    feed = (await client.get(f"/chat/feed?group={GROUP}&as=张大爷")).text
    assert "已换新灯泡" in feed and "<html" not in feed


@sqlite_only
async def test_chat_is_off_when_a_real_platform_is_configured(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    app = make_app(admin_secret="x", data_dir=tmp_path, telegram_bot_token="123:abc")
    web = create_app(app)
    assert "local" not in app.transports
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://testserver"
    ) as client:
        assert (await client.get("/chat")).status_code == 404
        assert (await client.get("/")).headers["location"] == "/login"
    assert "/chat" not in welcome(app) and "/issues" in welcome(app)


@sqlite_only
async def test_start_message_names_the_web_chat(app: App) -> None:
    create_app(app)
    assert re.search(r"模拟群聊 http://127\.0\.0\.1:8000/chat", welcome(app))
