"""Speech to text on its own: the HTTP adapter against the fake endpoint (what it sends, every
way it fails), the decision in handlers.voice, and WeChat's SILK decoded to sound the endpoint
reads. The doors end to end: tests/telegram/test_voice.py, tests/wechat/test_voice.py."""

from __future__ import annotations

import io
import json
import socket
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bot.asr import OpenAITranscriber, transcriber
from bot.wechat import silk_to_wav
from bot.wechat import voice_of as wechat_voice_of
from handlers.voice import hear, wants_words
from ports.asr import SpeechError
from ports.messages import MAX_TRANSCRIPT, Attachment, Incoming, Voice
from ports.settings import Settings
from tests.voice.fake_asr import SAID, FakeASR, loudest_pitch, ogg_opus, silk

pytestmark = pytest.mark.asyncio


@pytest.fixture
def asr() -> Iterator[FakeASR]:
    with FakeASR() as fake:
        yield fake


def voice_message(path: Path, text: str = "", **extra: object) -> Incoming:
    return Incoming(
        platform="telegram",
        chat="-100",
        sender="20001",
        text=text,
        message_id="7",
        at=datetime(2026, 11, 23, 1, tzinfo=UTC),
        attachments=(Attachment("voice", "file-7", str(path)),),
        **extra,  # type: ignore[arg-type]
    )


async def test_off_unless_a_base_url_and_a_model_are_set() -> None:
    assert transcriber(Settings(_env_file=None)) is None  # type: ignore[call-arg]
    assert transcriber(Settings(_env_file=None, asr_base_url="http://x/v1")) is None  # type: ignore[call-arg]
    on = Settings(_env_file=None, asr_base_url="http://x/v1", asr_model="whisper-1")  # type: ignore[call-arg]
    made = transcriber(on)
    assert made is not None and made.url == "http://x/v1/audio/transcriptions"


async def test_the_transcriber_sends_the_file_model_language_and_key(asr: FakeASR) -> None:
    client = OpenAITranscriber(asr.base_url, "sensevoice", api_key="sk-village", language="zh")
    words = await client.transcribe(Voice(ogg_opus(350), "voice.ogg", "audio/ogg"))
    assert words == SAID[350]
    [call] = asr.calls
    assert (call.model, call.language, call.filename) == ("sensevoice", "zh", "voice.ogg")
    assert call.mime == "audio/ogg" and call.authorization == "Bearer sk-village"


@pytest.mark.parametrize("mode", ["error", "garbage", "slow"])
async def test_every_failure_of_the_endpoint_is_a_speech_error(asr: FakeASR, mode: str) -> None:
    asr.mode = mode
    client = OpenAITranscriber(asr.base_url, "whisper-1", timeout=0.5)
    with pytest.raises(SpeechError):
        await client.transcribe(Voice(ogg_opus(350), "voice.ogg", "audio/ogg"))
    assert len(asr.calls) == 1


async def test_an_unreachable_endpoint_or_an_unreadable_file_is_a_speech_error(
    asr: FakeASR,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/v1"  # nobody listens there
    with pytest.raises(SpeechError):
        await OpenAITranscriber(closed, "whisper-1").transcribe(Voice(b"x", "voice.ogg"))
    with pytest.raises(SpeechError, match="400"):  # SILK as is: no endpoint reads it
        await OpenAITranscriber(asr.base_url, "whisper-1").transcribe(
            Voice(silk(350), "voice.silk", "application/octet-stream")
        )


async def test_a_voice_message_takes_its_words_and_keeps_them_with_the_file(
    asr: FakeASR, tmp_path: Path
) -> None:
    path = tmp_path / "v.oga"
    path.write_bytes(ogg_opus(500))
    msg = voice_message(path)
    client = OpenAITranscriber(asr.base_url, "whisper-1")
    assert wants_words(client, msg) and not wants_words(None, msg)
    heard = await hear(client, msg)  # no sound on it: nothing to hear
    assert heard.text == "" and not asr.calls
    heard = await hear(client, voice_message(path, voice=Voice(path.read_bytes())))
    assert heard.text == SAID[500] and heard.voice is None
    [kept] = json.loads(heard.attachments_json())
    assert kept["transcript"] == SAID[500] and kept["path"] == str(path)


async def test_words_of_its_own_or_a_failure_leave_the_message_as_it_was(
    asr: FakeASR, tmp_path: Path
) -> None:
    path = tmp_path / "v.oga"
    path.write_bytes(ogg_opus(500))
    client = OpenAITranscriber(asr.base_url, "whisper-1", timeout=0.5)
    captioned = voice_message(path, "说事 三组的桥", voice=Voice(path.read_bytes()))
    assert (await hear(client, captioned)).text == "说事 三组的桥" and not asr.calls
    for mode in ("error", "slow"):
        asr.mode = mode
        left = await hear(client, voice_message(path, voice=Voice(path.read_bytes())))
        assert left.text == "" and left.voice is None
        assert "transcript" not in json.loads(left.attachments_json())[0]
    asr.mode = "ok"
    silent = tmp_path / "silent.ogg"  # a pitch nobody's phrase: the endpoint hears nothing
    silent.write_bytes(ogg_opus(1200))
    left = await hear(client, voice_message(silent, voice=Voice(silent.read_bytes())))
    assert left.text == ""


async def test_wechat_silk_becomes_wav_the_endpoint_hears(asr: FakeASR, tmp_path: Path) -> None:
    wav = silk_to_wav(silk(500))
    with wave.open(io.BytesIO(wav)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float)
        assert (w.getnchannels(), w.getframerate()) == (1, 16_000)
    assert abs(loudest_pitch(samples, 16_000) - 500) < 10
    path = tmp_path / "msg-voice.silk"
    path.write_bytes(silk(350))
    sound = wechat_voice_of(voice_message(path))
    assert sound is not None and (sound.filename, sound.mime) == ("voice.wav", "audio/wav")
    client = OpenAITranscriber(asr.base_url, "whisper-1")
    assert await client.transcribe(sound) == SAID[350]
    # A file that only claims to be SILK is no sound: nothing to send.
    path.write_bytes(b"\x02#!SILK_V3\x10\x00" + b"\x33" * 16 + b"\x05\x00")
    assert wechat_voice_of(voice_message(path)) is None


async def test_an_endless_transcript_is_cut_alike_in_the_text_and_the_attachment(
    asr: FakeASR, tmp_path: Path
) -> None:
    asr.mode = "long"
    path = tmp_path / "v.oga"
    path.write_bytes(ogg_opus(350))
    client = OpenAITranscriber(asr.base_url, "whisper-1")
    heard = await hear(client, voice_message(path, voice=Voice(path.read_bytes())))
    [kept] = json.loads(heard.attachments_json())
    assert heard.text == kept["transcript"] == (SAID[350] * 500)[:MAX_TRANSCRIPT]
