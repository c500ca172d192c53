"""Logs: JSON lines on request; no message text at INFO; secrets and numbers kept out."""

from __future__ import annotations

import json
import logging

import pytest

from bot.app import App
from ops.logs import JsonFormatter, Redact, configure
from tests.conftest import Chat


def test_json_lines_and_redaction() -> None:
    record = logging.LogRecord(
        "shuoshi.test",
        logging.WARNING,
        __file__,
        1,
        "call %s about issue %d",
        ("13812345678", 7),
        None,
    )
    record.issue = 7  # an extra= field
    assert Redact().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "call 138****5678 about issue 7"
    assert line["level"] == "WARNING" and line["logger"] == "shuoshi.test" and line["issue"] == 7


def test_configure_quiets_http_clients() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure("INFO", json_lines=True)
        assert isinstance(root.handlers[-1].formatter, JsonFormatter)
        # httpx logs every request URL at INFO, and Telegram's URLs carry the bot token.
        assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_no_message_text_at_info(app: App, caplog: pytest.LogCaptureFixture) -> None:
    """A whole conversation through intake, commands and the sender: nothing anyone wrote (or
    their phone number) appears in a log record at INFO or above."""
    secret_words = ["村口路灯坏了好几天了", "已修好换了新灯泡", "13812345678", "张大爷"]
    caplog.set_level(logging.INFO)
    Chat(app).say(
        "张大爷: 说事 村口路灯坏了好几天了 电话13812345678\n"
        "张姐 re#1: 认领\n"
        "张姐 re#1: 办结 已修好换了新灯泡\n"
        "张大爷 [满意]"
    )
    for record in caplog.records:
        if record.levelno >= logging.INFO:
            text = record.getMessage()
            assert not any(word in text for word in secret_words), text
