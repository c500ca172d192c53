"""A fake OpenAI-compatible speech-to-text server on 127.0.0.1, and real voice files to send it.

The server answers `POST /v1/audio/transcriptions` (multipart: file, model, language,
response_format) as whisper's server does, `{"text": …}`. It really decodes the file it gets
(OGG/Opus, WAV, by its name, with libsndfile; anything else is refused with a 400) and "hears"
its loudest pitch: the test's villager says a phrase by humming its pitch (`SAID`). A file that
is not the sound the test made, or was decoded wrong on the way (SILK), is heard as something
else or nothing.

The files: `ogg_opus(pitch)` (what Telegram sends for a voice note) with soundfile, and
`silk(pitch)` (what WeChat keeps) with silk-python's encoder, from PCM made here.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pysilk
import soundfile

# What the test's villagers say, by the pitch they say it at (Hz).
SAID = {
    350: "村口路灯坏了好几天了，晚上黑乎乎的",
    500: "隔壁老王家的鸭子天天跑到我家稻田里吃秧苗，说了好几次他也不管",
    700: "好的收到",
}
READABLE = (".ogg", ".wav", ".flac")  # what libsndfile reads here; OpenAI refuses .oga too


def pcm(pitch: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * pitch * t) * 9000).astype("<i2")


def ogg_opus(pitch: float) -> bytes:
    """A second of `pitch` as OGG/Opus, as Telegram's voice notes are."""
    out = io.BytesIO()
    soundfile.write(out, pcm(pitch, 48_000), 48_000, format="OGG", subtype="OPUS")
    return out.getvalue()


def silk(pitch: float, seconds: float = 1.0) -> bytes:
    """`pitch` as SILK v3 with Tencent's leading byte, as WeChat keeps voice."""
    out = io.BytesIO()
    pysilk.encode(io.BytesIO(pcm(pitch, 24_000, seconds).tobytes()), out, 24_000, 24_000)
    return out.getvalue()


def loudest_pitch(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


def heard(filename: str, data: bytes) -> str | None:
    """What the fake hears in a file: the phrase said at its pitch, "" for none; None when the
    file cannot be read as sound."""
    if not filename.lower().endswith(READABLE):
        return None
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float64")
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        return None
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    pitch = loudest_pitch(samples, rate)
    return next((text for p, text in SAID.items() if abs(p - pitch) < 10), "")


@dataclass
class Call:
    model: str
    language: str
    filename: str
    mime: str
    authorization: str
    size: int


@dataclass
class FakeASR:
    """The server; `mode`: "ok", "error" (HTTP 500), "slow" (answers only when the test ends,
    long after any timeout), "garbage" (200 without JSON) or "long" (the words 500 times)."""

    mode: str = "ok"
    calls: list[Call] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _release: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeASR:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                if self.path != "/v1/audio/transcriptions":
                    return self._answer(404, {"error": "no such route"})
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                head = f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode()
                form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
                fields: dict[str, str] = {}
                file: tuple[str, str, bytes] | None = None
                for part in form.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    decoded = part.get_payload(decode=True)
                    payload = decoded if isinstance(decoded, bytes) else b""
                    if name == "file":
                        file = (part.get_filename() or "", part.get_content_type(), payload)
                    elif isinstance(name, str):
                        fields[name] = payload.decode()
                if file is None or not fields.get("model"):
                    return self._answer(400, {"error": "file and model are required"})
                fake.calls.append(
                    Call(
                        model=fields["model"],
                        language=fields.get("language", ""),
                        filename=file[0],
                        mime=file[1],
                        authorization=self.headers.get("authorization", ""),
                        size=len(file[2]),
                    )
                )
                if fake.mode == "slow":
                    fake._release.wait(30)
                if fake.mode == "error":
                    return self._answer(500, {"error": "model crashed"})
                if fake.mode == "garbage":
                    return self._answer(200, None)
                text = heard(file[0], file[2])
                if text is None:
                    return self._answer(400, {"error": f"Invalid file format: {file[0]}"})
                if fake.mode == "long":  # an endpoint gone astray, repeating itself
                    text = text * 500
                return self._answer(200, {"text": text})

            def _answer(self, status: int, body: Any) -> None:
                data = b"<html>oops</html>" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
