"""Voice messages on Telegram, end to end: a real OGG/Opus voice note through the fake Bot API
(getFile and the file download), the door, speech to text against the fake endpoint, and the
real pipeline (SQLite and PostgreSQL). Spoken matters are registered with their kind; when the
endpoint fails or is too slow, the voice is registered 待分类 as before."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.app import App
from bot.telegram import TelegramDoor
from storage.models import Inbound, Issue
from tests.telegram.conftest import (
    GRID,
    GROUP,
    NEIGHBOUR,
    TOKEN,
    VILLAGER,
    WANG,
    ZHANG,
    admin_server,
    door_running,
    free_socket,
    rows,
    until,
)
from tests.telegram.fake_bot_api import FakeBotApi
from tests.voice.fake_asr import SAID, FakeASR, ogg_opus

pytestmark = pytest.mark.asyncio


@pytest.fixture
def asr() -> Iterator[FakeASR]:
    with FakeASR() as fake:
        yield fake


def voice_app(
    make_app: Callable[..., App], server: FakeBotApi, asr: FakeASR, tmp_path: Path, **more: object
) -> App:
    return make_app(
        grid=GRID,
        data_dir=tmp_path / "data",
        telegram_bot_token=TOKEN,
        telegram_base_url=server.base_url,
        telegram_max_per_second=0,
        telegram_chat_max_per_second=0,
        telegram_group_max_per_minute=0,
        outbox_poll_seconds=0.05,
        asr_base_url=asr.base_url,
        asr_model="whisper-1",
        asr_api_key="sk-test",
        asr_timeout_seconds=1.0,
        **more,
    )


@pytest_asyncio.fixture
async def door(
    make_app: Callable[..., App], server: FakeBotApi, asr: FakeASR, tmp_path: Path
) -> AsyncIterator[TelegramDoor]:
    async with door_running(voice_app(make_app, server, asr, tmp_path)) as running_door:
        yield running_door


def issue(app: App, number: int) -> Issue:
    [found] = rows(app, Issue, Issue.number == number)
    return found


async def test_a_spoken_matter_is_registered_with_its_kind_and_its_words(
    server: FakeBotApi, door: TelegramDoor, asr: FakeASR
) -> None:
    app = door.app
    sound = ogg_opus(350)  # OGG streams differ each time (a random serial number): keep it
    server.post_voice(GROUP, VILLAGER, sound, first_name="张大爷")
    [ack] = await server.wait_sent(1, chat_id=GROUP)
    # The group reads what the bot heard, under its kind: not 待分类.
    assert "#1" in ack.plain_text and "村里事" in ack.plain_text
    assert "路灯" in ack.plain_text and "待分类" not in ack.plain_text
    lamp = issue(app, 1)
    assert (lamp.kind, lamp.text) == ("村里事", SAID[350])
    [kept] = json.loads(lamp.attachments)
    assert kept["kind"] == "voice" and kept["transcript"] == SAID[350]
    assert Path(kept["path"]).read_bytes() == sound  # the sound itself is kept too
    # Its owner reads the words in the new-matter notice.
    owner_dm = [s for s in await server.wait_sent(2) if s.chat_id in (ZHANG, WANG)]
    [told] = [s for s in owner_dm if SAID[350] in s.plain_text and "#1" in s.plain_text]
    assert "语音" in told.plain_text and "核对" in told.plain_text  # heard, not typed
    [call] = asr.calls
    assert call.filename == "voice.ogg" and call.authorization == "Bearer sk-test"

    # A dispute said aloud: 邻里事, the group sees only its number; the owner reads the words.
    server.post_voice(GROUP, NEIGHBOUR, ogg_opus(500), first_name="李婶")
    await until(lambda: rows(app, Issue, Issue.number == 2))
    dispute = issue(app, 2)
    assert (dispute.kind, dispute.text) == ("邻里事", SAID[500])
    notice = await until(
        lambda: [s for s in server.sent if s.chat_id == WANG and "#2" in s.plain_text]
    )
    assert SAID[500] in notice[0].plain_text
    acks = [s for s in server.sent if s.chat_id == GROUP and "#2" in s.plain_text]
    assert acks and all("鸭子" not in s.plain_text for s in acks)


async def test_spoken_chatter_is_kept_silently_like_typed_chatter(
    server: FakeBotApi, door: TelegramDoor, asr: FakeASR
) -> None:
    server.post_voice(GROUP, VILLAGER, ogg_opus(700), first_name="张大爷")
    [row] = await until(lambda: rows(door.app, Inbound))
    assert (row.text, row.status) == (SAID[700], "chatter")
    assert rows(door.app, Issue) == [] and not server.sent


@pytest.mark.parametrize("mode", ["error", "slow"])
async def test_without_words_a_voice_message_is_unsorted_as_before(
    server: FakeBotApi, door: TelegramDoor, asr: FakeASR, mode: str
) -> None:
    asr.mode = mode  # the endpoint fails, or answers after the door stopped waiting
    sound = ogg_opus(350)
    server.post_voice(GROUP, VILLAGER, sound, first_name="张大爷")
    [ack] = await server.wait_sent(1, chat_id=GROUP)
    assert "待分类" in ack.plain_text and "语音" in ack.plain_text
    voice = issue(door.app, 1)
    assert (voice.kind, voice.text) == ("待分类", "")
    [kept] = json.loads(voice.attachments)
    assert "transcript" not in kept and Path(kept["path"]).read_bytes() == sound
    assert len(asr.calls) == 1


async def test_a_voice_message_pushed_to_the_webhook_is_heard_too(
    make_app: Callable[..., App], server: FakeBotApi, asr: FakeASR, tmp_path: Path
) -> None:
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/webhook"
    app = voice_app(make_app, server, asr, tmp_path, telegram_webhook_url=url)
    async with admin_server(app, sock) as web, door_running(app, web):
        server.post_voice(GROUP, VILLAGER, ogg_opus(350), first_name="张大爷")
        [ack] = await server.wait_sent(1, chat_id=GROUP)
        assert "村里事" in ack.plain_text and "路灯" in ack.plain_text
        assert [d.status for d in server.webhook_deliveries] == [200]
    assert (issue(app, 1).kind, issue(app, 1).text) == ("村里事", SAID[350])
