"""Cleaning what comes in through any door, once, in the neutral message (ports.messages).

Whatever a platform hands over, a person can type or forge: a NUL byte (PostgreSQL refuses it
in text, so one such post stalled the inbox), lone surrogates (not encodable: the database
driver and JSON fail), other control characters, bidi overrides that make an echoed name or
text read backwards, zero-width characters that hide inside a keyword, and texts or names of
any length. Here they become plain text of bounded size, so nothing after the door has to care.
"""

from __future__ import annotations

import re

MAX_TEXT = 20_000  # characters of a post kept (above any real post; WeChat and Telegram send
# less in one message); a longer one is cut and says so (TRUNCATED)
MAX_NAME = 64  # a person's or a chat's display name
MAX_KEY = 128  # platform ids: chat, sender, message id, reply-to, file id
MAX_BUTTON = 64  # Telegram's own limit on a button's data
TRUNCATED = "……（原文太长，超过{limit}字的部分没有收下，请分几条发）"

# C0/C1 controls except tab and newline; bidi embeddings, overrides and isolates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Zero-width and invisible formatting characters, and the left/right marks. The zero-width
# joiner (U+200D) stays in texts: emoji sequences need it.
_INVISIBLE = re.compile("[\u200b\u200c\u200e\u200f\u2060-\u2064\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NAME_ONLY = re.compile("[\u200d\n\t]")


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """A post's text: no control, bidi or invisible characters, surrogates replaced (U+FFFD),
    carriage returns as newlines, at most `limit` characters (a longer one is cut with a note)."""
    if text.isascii() and text.isprintable():
        cleaned = text  # the common case in tests and commands: nothing to do
    else:
        cleaned = text.replace("\r\n", "\n").replace("\r", "\n")
        cleaned = _CONTROL.sub("", cleaned)
        cleaned = _INVISIBLE.sub("", cleaned)
        cleaned = _SURROGATE.sub("\ufffd", cleaned)
    if len(cleaned) > limit:
        cleaned = cleaned[:limit] + TRUNCATED.format(limit=limit)
    return cleaned


def clean_name(name: str, limit: int = MAX_NAME) -> str:
    """A display name or chat title: one line, nothing invisible, at most `limit` characters."""
    cleaned = _NAME_ONLY.sub(" ", clean_text(name, limit=10 * limit))
    return " ".join(cleaned.split())[:limit]


def clean_key(value: str, limit: int = MAX_KEY) -> str:
    """A platform id (chat, sender, message, file): the same rules, and bounded."""
    return (
        clean_name(value, limit=limit)
        if not (value.isascii() and value.isprintable())
        else value[:limit]
    )
