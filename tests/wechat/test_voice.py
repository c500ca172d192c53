"""Voice messages on WeChat, end to end: a real SILK file sent through the mock gateway
(over 20 KB it comes through Download, as a real puppet's voice does), the door decoding it to
WAV, speech to text against the fake endpoint, and the real pipeline (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.app import App, running
from storage.models import Kind
from tests.voice.fake_asr import SAID, FakeASR, silk
from tests.wechat.conftest import (
    ROOM,
    UNLIMITED,
    VILLAGER,
    Gateway,
    World,
    make_bot,
    wechat_grid,
)

pytestmark = pytest.mark.asyncio


@pytest.fixture
def asr() -> Iterator[FakeASR]:
    with FakeASR() as fake:
        yield fake


@pytest_asyncio.fixture
async def world(
    gateway: Gateway, make_app: Callable[..., App], tmp_path: Path, asr: FakeASR
) -> AsyncIterator[World]:
    gateway.control("POST", "/reset", {})
    app = make_app(
        grid=wechat_grid(tmp_path),
        data_dir=tmp_path / "data",
        asr_base_url=asr.base_url,
        asr_model="sensevoice-small",
        asr_timeout_seconds=1.0,
        **UNLIMITED,
    )
    bot = make_bot(app, gateway)
    w = World(app, gateway, bot)
    w.setup_people()
    async with running(app, bot):
        await w.login()
        yield w


def in_room(m: dict[str, object]) -> bool:
    return m["roomId"] == ROOM


def say_aloud(world: World, who: str, sound: bytes) -> None:
    world.say(who, room=ROOM, type="audio", base64=base64.b64encode(sound).decode())


async def test_a_spoken_dispute_is_registered_as_one_with_its_words(
    world: World, asr: FakeASR
) -> None:
    sound = silk(500, seconds=10)  # over 20 KB: the gateway hands it out through Download
    assert len(sound) > 20_000
    start = len(world.sent())
    say_aloud(world, VILLAGER, sound)
    ack = await world.next_sent(start, in_room)
    assert "#1" in ack["text"] and "邻里事" in ack["text"] and "待分类" not in ack["text"]
    assert "鸭子" not in ack["text"]  # a dispute: only its number in the room
    [issue] = world.issues()
    assert (issue.kind, issue.text) == (Kind.NEIGHBOUR, SAID[500])
    [kept] = json.loads(issue.attachments)
    assert kept["kind"] == "voice" and kept["transcript"] == SAID[500]
    assert Path(kept["path"]).read_bytes() == sound  # WeChat's own file is what is kept
    # The owner reads the words privately.
    notice = await world.next_sent(start, lambda m: m["roomId"] is None and "#1" in m["text"])
    assert SAID[500] in notice["text"]
    [call] = asr.calls
    assert (call.filename, call.mime, call.model) == ("voice.wav", "audio/wav", "sensevoice-small")


async def test_a_spoken_village_matter_is_shown_in_the_room(world: World) -> None:
    start = len(world.sent())
    say_aloud(world, VILLAGER, silk(350))  # a short one: inline in the event's FileBox
    ack = await world.next_sent(start, in_room)
    assert "村里事" in ack["text"] and "路灯" in ack["text"]
    [issue] = world.issues()
    assert (issue.kind, issue.text) == (Kind.VILLAGE, SAID[350])


async def test_when_the_endpoint_fails_the_voice_is_unsorted_as_before(
    world: World, asr: FakeASR
) -> None:
    asr.mode = "error"
    start = len(world.sent())
    say_aloud(world, VILLAGER, silk(350))
    ack = await world.next_sent(start, in_room)
    assert "待分类" in ack["text"] and "语音" in ack["text"]
    [issue] = world.issues()
    assert (issue.kind, issue.text) == (Kind.UNSORTED, "")
    assert "transcript" not in json.loads(issue.attachments)[0]
