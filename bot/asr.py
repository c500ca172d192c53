"""Speech to text through an OpenAI-compatible `POST {ASR_BASE_URL}/audio/transcriptions`
(a local whisper or SenseVoice server, or a hosted one): the adapter behind ports.asr, built by
the root when ASR_BASE_URL and ASR_MODEL are set and handed to the doors.

Whatever goes wrong (unreachable, slower than ASR_TIMEOUT_SECONDS, a refusal, an answer that is
not JSON with a `text`) is one `SpeechError`: handlers.voice then lets the message go on as a
voice message without words (待分类), so the endpoint can only add, never lose.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from ports.asr import SpeechError
from ports.messages import Voice
from ports.settings import Settings

log = logging.getLogger(__name__)


class OpenAITranscriber:
    """`ports.asr.SpeechToText` over HTTP: one multipart request per voice message."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str = "",
        language: str = "",
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/audio/transcriptions"
        self.model = model
        self.language = language
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._transport = transport

    async def transcribe(self, voice: Voice) -> str:
        form = {"model": self.model, "response_format": "json"}
        if self.language:
            form["language"] = self.language
        files = {"file": (voice.filename, voice.data, voice.mime)}
        try:
            # The whole call within the timeout, not each of its reads: a server dribbling
            # bytes must not hold a door longer than that.
            # A client per call: voice messages are few, and a client kept would belong to the
            # event loop that opened it.
            async with (
                asyncio.timeout(self.timeout),
                httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client,
            ):
                resp = await client.post(self.url, data=form, files=files, headers=self.headers)
        except (httpx.HTTPError, TimeoutError) as exc:
            raise SpeechError(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code != 200:
            raise SpeechError(f"HTTP {resp.status_code}: {resp.text[:200]}")
        try:
            text = resp.json()["text"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SpeechError(f"no text in the answer: {resp.text[:200]}") from exc
        if not isinstance(text, str):
            raise SpeechError("the answer's text is not a string")
        return text.strip()


def transcriber(settings: Settings) -> OpenAITranscriber | None:
    """The settings' speech-to-text, or None when ASR_BASE_URL or ASR_MODEL is unset (off)."""
    if not (settings.asr_base_url and settings.asr_model):
        return None
    return OpenAITranscriber(
        settings.asr_base_url,
        settings.asr_model,
        api_key=settings.asr_api_key,
        language=settings.asr_language,
        timeout=settings.asr_timeout_seconds,
    )
