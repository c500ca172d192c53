"""Issue 14 through the real Telegram door: a NUL byte, a lone surrogate, an absurd date or a
huge body never stall the door or answer 500 forever (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from bot.telegram import MAX_WEBHOOK_BODY, SECRET_HEADER, TelegramDoor
from storage.models import Inbound, Issue
from tests.telegram.conftest import GROUP, VILLAGER, ZHANG, count, rows, until
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.test_webhook import SECRET, hooked  # noqa: F401  (the webhook fixture)

pytestmark = pytest.mark.asyncio


async def test_a_nul_byte_in_text_or_name_does_not_stall_polling(
    server: FakeBotApi, door: TelegramDoor
) -> None:
    server.post_text(GROUP, VILLAGER, "说事 路灯\x00坏了", first_name="张\x00大爷")
    server.post_text(GROUP, VILLAGER + 1, "桥栏杆断了很危险，小孩子过桥怕掉下去", first_name="李四")
    await server.wait_sent(2, chat_id=GROUP)
    texts = sorted(i.text for i in rows(door.app, Issue))
    assert texts == ["桥栏杆断了很危险，小孩子过桥怕掉下去", "路灯坏了"]
    assert [i.reporter_name for i in rows(door.app, Issue) if i.text == "路灯坏了"] == ["张大爷"]
    assert all(r.status != "new" for r in rows(door.app, Inbound))


async def test_an_absurd_deadline_in_private_is_answered(
    server: FakeBotApi, door: TelegramDoor
) -> None:
    server.post_text(VILLAGER, VILLAGER, "限期 1 99999999天")
    server.post_text(VILLAGER, VILLAGER, "/status 99999999999999999999")
    replies = await server.wait_sent(2, chat_id=VILLAGER)
    assert all(r.plain_text for r in replies)
    assert all(r.status != "new" for r in rows(door.app, Inbound))


def _update(update_id: int, text: str) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_764_000_000,
            "chat": {"id": GROUP, "type": "supergroup", "title": "新联村说事群"},
            "from": {"id": VILLAGER, "is_bot": False, "first_name": "张大爷"},
            "text": text,
        },
    }


async def test_webhook_takes_nul_and_lone_surrogates_and_refuses_floods(
    hooked: tuple[TelegramDoor, str],  # noqa: F811
) -> None:
    door, url = hooked
    good = {SECRET_HEADER: SECRET, "content-type": "application/json"}
    nul = json.dumps(_update(9001, "说事 水渠\u0000堵了"))
    # json.dumps escapes a lone surrogate as \ud800: what a forged update carries
    surrogate = json.dumps(_update(9002, "说事 井盖\ud800没了"))
    huge = b"x" * (MAX_WEBHOOK_BODY + 1)
    async with httpx.AsyncClient() as client:
        first = await client.post(url, content=nul, headers=good)
        second = await client.post(url, content=surrogate, headers=good)
        flood = await client.post(url, content=huge, headers=good)
        stranger = await client.post(url, content=huge, headers={SECRET_HEADER: "guess"})
    assert (first.status_code, second.status_code) == (200, 200)
    assert (flood.status_code, stranger.status_code) == (413, 403)
    await asyncio.sleep(0.2)
    assert sorted(i.text for i in rows(door.app, Issue)) == ["井盖\ufffd没了", "水渠堵了"]
    assert count(door.app, Inbound) == 2


async def test_triage_card_buttons_register_and_answer_the_villager_in_the_group(
    server: FakeBotApi, door: TelegramDoor
) -> None:
    """Issue 15: an unsure post gets no answer in the group; the card's [登记] registers it and
    the villager is answered in the group, as a reply to the post."""
    from datetime import timedelta

    from handlers.clock import FakeClock
    from scheduler.jobs import Scheduler
    from storage.models import Inbound as Row
    from tests.handlers.test_triage import Unsure

    app = door.app
    app.deps.classifier = Unsure()  # type: ignore[assignment]
    post = server.post_text(GROUP, VILLAGER, "我家老房子漏雨了", first_name="张大爷")
    await until(lambda: [r for r in rows(app, Row) if r.status == "unsure"])
    assert isinstance(app.clock, FakeClock)
    app.clock.advance(timedelta(minutes=4))
    await asyncio.to_thread(Scheduler.for_app(app, charts=False).sweep)
    [card] = await server.wait_sent(1, chat_id=ZHANG)
    [row] = card.buttons
    assert [b["callback_data"] for b in row] == ["reg:1", "notm:1"]
    assert "漏雨" in (card.plain_text or "") and not [s for s in server.sent if s.chat_id == GROUP]
    server.press_button(ZHANG, ZHANG, card.message_id, "reg:1")
    [ack] = await server.wait_sent(1, chat_id=GROUP)
    assert ack.reply_to_message_id == post["message"]["message_id"]
    assert "#1" in (ack.plain_text or "") and "漏雨" not in (ack.plain_text or "")  # 户里事 stub
    assert "已登记" in (server.callback_answers[-1].text or "")
    assert [i.kind for i in rows(app, Issue)] == ["户里事"]


async def test_webhook_failures_to_record_make_the_door_not_ready_until_one_is_recorded(
    server: FakeBotApi,
    hooked: tuple[TelegramDoor, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A full disk answered 500 to every webhook while /readyz said ready (bench/faults.py)."""
    from sqlalchemy.exc import OperationalError

    import bot.telegram
    from admin.readiness import check

    door, _ = hooked
    real = bot.telegram.receive
    broken = {"on": True}

    def full(*args: object, **kwargs: object) -> object:
        if broken["on"]:
            raise OperationalError("INSERT", {}, Exception("database or disk is full"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.telegram, "receive", full)
    server.post_text(GROUP, VILLAGER, "说事 村口路灯坏了")
    await server.wait_for(lambda: [d for d in server.webhook_deliveries if d.status == 500])
    ready, report = check(door.app)
    assert not ready and any("telegram" in p for p in report["problems"])
    broken["on"] = False
    await server.wait_sent(1, chat_id=GROUP, timeout=30)
    assert check(door.app)[0]
