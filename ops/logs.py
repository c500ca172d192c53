"""Logging for every `shuoshi` command: plain lines, or one JSON object per line (LOG_JSON=true)
for a log collector.

Personal data: log calls name things by id (issue #N, inbound id, platform:chat, outbox id),
never by what someone wrote; message text may appear at DEBUG only. As a safety net every
record passes `Redact`, which masks mobile and ID-card numbers (handlers.privacy.mask) in
whatever slipped through, and HTTP client libraries are kept at WARNING: their INFO lines
carry request URLs, and Telegram's contain the bot token.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from handlers.privacy import mask

PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries whose INFO lines are noise or carry secrets (httpx: the Bot API URL with the token).
QUIET = {
    "alembic": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "apscheduler": logging.WARNING,
    "telegram": logging.WARNING,
    "grpc": logging.WARNING,
}
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message"} plus `extra=` fields and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class Redact(logging.Filter):
    """Masks mobile and ID-card numbers in the message (arguments included) and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


def configure(level: str = "INFO", json_lines: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(PLAIN))
    handler.addFilter(Redact())
    root = logging.getLogger()
    for old in list(root.handlers):  # ours from before, or basicConfig's; not a test harness's
        if type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    try:
        root.setLevel(level.upper())
    except ValueError:
        root.setLevel(logging.INFO)
        logging.getLogger("shuoshi").warning("LOG_LEVEL=%s is not a level; using INFO", level)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, root.level))
    # uvicorn's loggers go through the same handler (serve.py passes log_config=None; when it
    # does not, uvicorn installs its own plain handlers and these lines change nothing).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
