"""Speech to text (语音转写), as every layer sees it: the contract of the optional endpoint that
turns a villager's voice message into words (the root builds it from ASR_* settings; the doors
hand it to handlers.voice). Off by default: then nothing is transcribed and a voice message is
registered 待分类 for its owner to hear, as before."""

from __future__ import annotations

from typing import Protocol

from ports.messages import Voice


class SpeechError(Exception):
    """The endpoint gave no transcript: unreachable, too slow, refused, or an answer without
    text. The message then goes on without one (handlers.voice)."""


class SpeechToText(Protocol):
    async def transcribe(self, voice: Voice) -> str:
        """The words spoken in `voice` (possibly empty); raises `SpeechError`."""
        ...
