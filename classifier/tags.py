"""A villager's own tag decides the kind: "#邻里事 …", "【户里事】…", "[村里事]…". The one rule,
used by intake (handlers.parsing re-exports it) and by the model, which never trains on a
tagged post's words (a tag that contradicts the content would teach the wrong kind)."""

from __future__ import annotations

import re

_TAG = re.compile(
    r"[#＃]\s*(村里事|邻里事|户里事)[#＃]?|【(村里事|邻里事|户里事)】|\[(村里事|邻里事|户里事)\]"
)


def explicit_tag(text: str) -> str | None:
    m = _TAG.search(text)
    if not m:
        return None
    return next(g for g in m.groups() if g)


def strip_tag(text: str) -> str:
    return _TAG.sub("", text, count=1).strip()
