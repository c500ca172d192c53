"""The outbox → Telegram transport on its own: markup, mentions, replies, errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
import pytest_asyncio
from telegram import Bot

from bot.telegram import TEXT_LIMIT, TelegramTransport
from ports.doors import PermanentError, TransientError
from storage.models import Outbox
from tests.telegram.conftest import GROUP, TOKEN, VILLAGER
from tests.telegram.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.asyncio
NOW = datetime(2026, 11, 23, 9, 0)


def row(**fields: object) -> Outbox:
    values: dict[str, object] = {
        "platform": "telegram",
        "chat": str(GROUP),
        "text": "已登记 #1【村里事】路灯 <坏了> & 没修",
        "created_at": NOW,
        "not_before": NOW,
    }
    values.update(fields)
    return Outbox(**values)


@pytest_asyncio.fixture
async def transport(server: FakeBotApi) -> AsyncIterator[TelegramTransport]:
    async def names(key: str, chat: int) -> str | None:
        return {f"telegram:{VILLAGER}": "张<大爷>"}.get(key)

    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as bot:
        yield TelegramTransport(bot, names)


async def test_text_mention_buttons_and_reply(
    server: FakeBotApi, transport: TelegramTransport
) -> None:
    asked = server.post_text(GROUP, VILLAGER, "村口路灯坏了")
    buttons = json.dumps([["认领", "claim:1"]], ensure_ascii=False)
    sent_id = await transport.send(
        row(
            mention=f"telegram:{VILLAGER}",
            buttons=buttons,
            reply_to=str(asked["message"]["message_id"]),
        )
    )
    [sent] = server.sent
    assert sent_id == str(sent.message_id)
    assert sent.plain_text == "张<大爷> 已登记 #1【村里事】路灯 <坏了> & 没修"
    assert sent.text.startswith(f'<a href="tg://user?id={VILLAGER}">张&lt;大爷&gt;</a>')
    assert sent.buttons == [[{"text": "认领", "callback_data": "claim:1"}]]
    assert sent.reply_to_message_id == asked["message"]["message_id"]
    assert sent.params["reply_parameters"]["allow_sending_without_reply"] is True
    # Private rows carry no mention; a button press ("cb:…") is not a message to reply to.
    await transport.send(row(chat=str(VILLAGER), private=True, reply_to="cb:4000000000001"))
    assert server.sent[-1].plain_text == row().text and server.sent[-1].reply_to_message_id is None


async def test_long_texts_are_cut_and_pictures_go_with_their_caption(
    server: FakeBotApi, transport: TelegramTransport, tmp_path: Path
) -> None:
    await transport.send(row(text="长" * 5000))
    assert len(server.sent[-1].plain_text or "") <= TEXT_LIMIT
    chart = tmp_path / "chart.png"
    chart.write_bytes(b"\x89PNG fake chart")
    await transport.send(row(text="新联村说事周报", image=str(chart)))
    assert server.sent[-1].method == "sendPhoto" and server.sent[-1].plain_text == "新联村说事周报"
    assert server.sent[-1].file is not None
    assert server.sent[-1].file.content == b"\x89PNG fake chart"


@pytest.mark.parametrize(
    ("status", "expected"),
    [(429, TransientError), (500, TransientError), (403, PermanentError), (400, PermanentError)],
)
async def test_errors_say_whether_to_try_again(
    server: FakeBotApi, transport: TelegramTransport, status: int, expected: type[Exception]
) -> None:
    server.fail_next("sendMessage", status=status, retry_after=3)
    with pytest.raises(expected) as caught:
        await transport.send(row())
    if status == 429:
        assert isinstance(caught.value, TransientError) and caught.value.retry_after == 3
    assert not server.sent
