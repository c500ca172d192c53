"""Webhook mode: Telegram (the fake) pushes updates to a route on the admin app under uvicorn;
the route answers 200 only once the update is recorded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.exc import OperationalError

import bot.telegram
from bot.app import App
from bot.telegram import SECRET_HEADER, TelegramDoor
from storage.models import Inbound, Issue
from tests.telegram.conftest import (
    GRID,
    GROUP,
    TOKEN,
    VILLAGER,
    ZHANG,
    admin_server,
    count,
    door_running,
    free_socket,
)
from tests.telegram.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.asyncio
SECRET = "s3cret-Token_1"


@pytest_asyncio.fixture
async def hooked(
    make_app: Callable[..., App], server: FakeBotApi, tmp_path: Path
) -> AsyncIterator[tuple[TelegramDoor, str]]:
    """The bot in webhook mode: the route on the admin app, uvicorn on a free port."""
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/webhook"
    app = make_app(
        grid=GRID,
        data_dir=tmp_path / "data",
        telegram_bot_token=TOKEN,
        telegram_base_url=server.base_url,
        telegram_webhook_url=url,
        telegram_webhook_secret=SECRET,
        telegram_max_per_second=0,
        telegram_chat_max_per_second=0,
        telegram_group_max_per_minute=0,
        outbox_poll_seconds=0.05,
    )
    async with admin_server(app, sock) as web, door_running(app, web) as door:
        yield door, url


async def test_updates_pushed_to_the_route_are_handled_once(
    server: FakeBotApi, hooked: tuple[TelegramDoor, str]
) -> None:
    door, url = hooked
    assert (server.webhook_url, server.webhook_secret) == (url, SECRET)
    assert door.app.status["telegram"]["mode"] == "webhook"
    assert not server.calls_to("getUpdates")
    update = server.post_text(GROUP, VILLAGER, "村口路灯坏了")
    [ack] = await server.wait_sent(1, chat_id=GROUP)
    [notice] = await server.wait_sent(1, chat_id=ZHANG)
    assert "#1" in (ack.plain_text or "")
    # Delivered again (Telegram never saw our 200): answered 200, nothing new.
    server.queue_update(update)
    await server.wait_for(lambda: len([d for d in server.webhook_deliveries if d.ok]) == 2)
    # A button press through the webhook is answered too.
    server.press_button(ZHANG, ZHANG, notice.message_id, "claim:1")
    await server.wait_for(lambda: server.callback_answers and server.edits)
    await server.wait_sent(2, chat_id=ZHANG)
    assert count(door.app, Issue) == 1 and count(door.app, Inbound) == 2
    assert len([s for s in server.sent if s.chat_id == GROUP]) == 1
    assert [d.status for d in server.webhook_deliveries] == [200, 200, 200]
    assert all(d.secret_token == SECRET for d in server.webhook_deliveries)


async def test_wrong_secret_is_refused_and_nothing_recorded(
    server: FakeBotApi, hooked: tuple[TelegramDoor, str]
) -> None:
    door, url = hooked
    update = {
        "update_id": 5,
        "message": {
            "message_id": 1,
            "date": 1,
            "chat": {"id": GROUP, "type": "supergroup", "title": "新联村说事群"},
            "from": {"id": VILLAGER, "is_bot": False, "first_name": "张大爷"},
            "text": "村口路灯坏了",
        },
    }
    body = json.dumps(update)
    async with httpx.AsyncClient() as client:
        wrong = await client.post(url, content=body, headers={SECRET_HEADER: "guess"})
        missing = await client.post(url, content=body)
        garbage = await client.post(url, content=b"{not json", headers={SECRET_HEADER: SECRET})
    assert (wrong.status_code, missing.status_code, garbage.status_code) == (403, 403, 400)
    assert count(door.app, Inbound) == 0
    async with httpx.AsyncClient() as client:
        right = await client.post(url, content=body, headers={SECRET_HEADER: SECRET})
    assert right.status_code == 200
    assert count(door.app, Inbound) == 1  # recorded before the 200


async def test_a_failure_to_record_answers_5xx_and_telegram_sends_again(
    server: FakeBotApi, hooked: tuple[TelegramDoor, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    door, _ = hooked
    real = bot.telegram.receive
    failures = [OperationalError("INSERT", {}, Exception("database is locked"))]

    def flaky(*args: object, **kwargs: object) -> object:
        if failures:
            raise failures.pop()
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.telegram, "receive", flaky)
    server.post_text(GROUP, VILLAGER, "村口路灯坏了")
    [ack] = await server.wait_sent(1, chat_id=GROUP)
    await asyncio.sleep(0.1)
    assert [d.status for d in server.webhook_deliveries] == [500, 200]
    assert count(door.app, Issue) == 1 and "#1" in (ack.plain_text or "")
