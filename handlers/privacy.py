"""Masking of mobile and ID-card numbers in everything shown to a group, digests and exports."""

from __future__ import annotations

import re

# Mainland mobile numbers (1[3-9]x, 11 digits) and 18-character resident ID numbers, also when
# written with spaces or dashes, but not inside a longer run of digits.
_ID_CARD = re.compile(r"(?<![0-9])([1-9]\d{5})(\d{8})(\d{3}[0-9Xx])(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?![0-9])")


def mask(text: str) -> str:
    text = _ID_CARD.sub(lambda m: m.group(1) + "********" + m.group(3), text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def short(text: str, limit: int = 30) -> str:
    """The matter in a few words, masked, on one line."""
    one_line = " ".join(mask(text).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"
