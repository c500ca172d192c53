"""Voice messages (语音): the elderly speak rather than type.

With speech to text configured (ASR_*, ports.asr), a voice message without words of its own is
heard before intake: its transcript becomes the message's text, so it is decided exactly like a
typed post (a matter of its kind, an unsure post for triage, a command, a rating, chatter), and
the transcript is kept with the voice attachment (the inbox row, the issue) so anyone can tell
the words were heard, not typed. The issue's text is the transcript: the owner reads it in the
new-matter notice, the group in the acknowledgment.

Without a transcript (off, the endpoint failed or was too slow, it heard nothing) the message
goes on as today: a villager's voice is registered 待分类 for its owner to listen to
(handlers.intake), so the endpoint can only add, never lose a matter.

A door calls `wants_words` (is there anything to hear?) and, if so, fetches the sound, puts it
on the message (`Incoming.voice`) and awaits `hear` before handing the message to intake.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from ports.asr import SpeechError, SpeechToText
from ports.messages import MAX_TRANSCRIPT, Incoming, Voice

log = logging.getLogger(__name__)
VOICE = "voice"
# What the endpoint reads, by extension (OpenAI's list and what phones record), with its type.
SOUND_TYPES = {
    ".ogg": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".wav": "audio/wav",
    ".webm": "audio/webm",
    ".amr": "audio/amr",
    ".aac": "audio/aac",
}


def sound(data: bytes, suffix: str) -> Voice:
    """Sound to send to the endpoint, named by its format (".ogg", ".wav", …)."""
    suffix = suffix.lower()
    return Voice(data, "voice" + suffix, SOUND_TYPES.get(suffix, "application/octet-stream"))


def voice_file(msg: Incoming) -> tuple[Path, bytes] | None:
    """The message's saved voice file and its bytes, as the door kept it; None when it has
    none or it cannot be read (the message then goes on without words, 待分类)."""
    path = next((a.path for a in msg.attachments if a.kind == VOICE and a.path), None)
    if path is None:
        return None
    try:
        return Path(path), Path(path).read_bytes()
    except OSError as exc:
        log.warning("voice file %s unreadable: %s", path, exc)
        return None


def wants_words(asr: SpeechToText | None, msg: Incoming) -> bool:
    """Whether `msg` is a voice message worth hearing: speech to text is on, the message has no
    words of its own (a caption is what the villager chose to say), nor is it a button press,
    and the door kept the sound."""
    if asr is None or msg.text.strip() or msg.button is not None:
        return False
    return any(a.kind == VOICE and a.path for a in msg.attachments)


async def hear(asr: SpeechToText | None, msg: Incoming) -> Incoming:
    """The message with the words spoken in its voice as its text, and the transcript kept on
    its voice attachment; the message as it was (its sound dropped) when there is nothing to
    hear or no words came back."""
    if msg.voice is None:
        return msg
    as_it_was = replace(msg, voice=None)
    if asr is None or not wants_words(asr, msg):
        return as_it_was
    try:
        words = (await asr.transcribe(msg.voice)).strip()
    except SpeechError as exc:
        log.warning("voice message %s:%s not transcribed: %s", msg.platform, msg.chat, exc)
        return as_it_was
    except Exception:  # the adapter's own bug: the message still goes on, 待分类
        log.exception("voice message %s:%s: speech to text failed", msg.platform, msg.chat)
        return as_it_was
    if not words:
        return as_it_was
    words = words[:MAX_TRANSCRIPT]  # text and attachment alike
    attachments = tuple(
        replace(a, transcript=words) if a.kind == VOICE else a for a in msg.attachments
    )
    return replace(as_it_was, text=words, attachments=attachments)
