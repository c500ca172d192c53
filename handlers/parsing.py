"""Reading what people type: commands (slash or Chinese keyword), tags, deadlines, kinds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from classifier.tags import explicit_tag as explicit_tag  # the tag rule, for intake
from classifier.tags import strip_tag as strip_tag
from handlers.registry import COMMANDS as DECLARED
from handlers.registry import Arg
from storage.models import Kind, Rating

# The declared commands (handlers/registry.py) as parsing reads them, in their order:
# name: (slash aliases, Chinese keywords). 说事 (/report) is no command: it starts a post.
COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    c.name: (c.slash, c.keywords) for c in DECLARED if c.arg != Arg.POST
}
NEEDS_NUMBER = {c.name for c in DECLARED if c.arg == Arg.NUMBER}
_NO_ARGUMENT = {c.name for c in DECLARED if c.arg == Arg.NONE}
_POST_SLASHES = {s for c in DECLARED if c.arg == Arg.POST for s in c.slash}
_POST_KEYWORDS = [k for c in DECLARED if c.arg == Arg.POST for k in c.keywords]

_SLASH = re.compile(r"^/([A-Za-z_]+)(?:@[A-Za-z0-9_]+)?(?:\s+|$)(.*)$", re.S)
_NUMBER = re.compile(r"^[#＃]?\s*(\d{1,9})(?![0-9])\s*[:：,，]?\s*(.*)$", re.S)
# A keyword is a command only when followed by the end, a space, a number or a colon, so that
# "我的天，路灯坏了" or "查询低保怎么办" stay posts.
_KEYWORD_END = re.compile(r"^(?:$|[\s#＃:：,，]|\d)")
_REPORT_SLASH = "|".join(map(re.escape, sorted(_POST_SLASHES)))  # report
_REPORT_WORD = "|".join(map(re.escape, _POST_KEYWORDS))  # 说事
_REPORT = re.compile(
    rf"^\s*(?:/(?:{_REPORT_SLASH})(?:@[A-Za-z0-9_]+)?|[#＃]?(?:{_REPORT_WORD}))"
    r"(?:$|[\s:：,，、!！。])\s*(.*)$",
    re.S,
)
_SLASH_BY_ALIAS = {alias: name for name, (slashes, _) in COMMANDS.items() for alias in slashes}
_KEYWORDS = sorted(
    ((kw, name) for name, (_, kws) in COMMANDS.items() for kw in kws), key=lambda x: -len(x[0])
)


@dataclass(frozen=True)
class Command:
    name: str  # claim, close, …, or "unknown" for an unknown slash command
    number: int | None
    args: str
    word: str  # what the person typed for the command, for error messages


def parse_command(text: str) -> Command | None:
    """A command, or None when the text is an ordinary post."""
    stripped = text.strip()
    m = _SLASH.match(stripped)
    if m:
        alias, rest = m.group(1).lower(), m.group(2).strip()
        if alias in _POST_SLASHES:
            return None
        name = _SLASH_BY_ALIAS.get(alias, "unknown")
        return _with_number(name, rest, "/" + alias)
    for kw, name in _KEYWORDS:
        if stripped.startswith(kw) and _KEYWORD_END.match(stripped[len(kw) :]):
            return _with_number(name, stripped[len(kw) :].strip(" \t:：,，"), kw)
    return None


# A keyword command without its number but with words after it is a villager's sentence that
# happens to start like one ("查询 我家低保批了没有", "帮助 村里孤寡老人过冬"): a post, not a
# command to refuse. Slash commands stay commands.
_PROSE = re.compile(r"[\u4e00-\u9fff]{3,}")  # words after the keyword that make it a sentence


def is_prose(cmd: Command) -> bool:
    if cmd.word.startswith("/") or cmd.name == "unknown":
        return False
    needs = cmd.name in NEEDS_NUMBER and cmd.number is None
    plain = cmd.name in _NO_ARGUMENT  # a command of words of its own (a bind code) stays one
    return (needs or plain) and _PROSE.search(cmd.args) is not None


def _with_number(name: str, rest: str, word: str) -> Command:
    if name in NEEDS_NUMBER:
        m = _NUMBER.match(rest)
        if m:
            return Command(name, int(m.group(1)), m.group(2).strip(), word)
    return Command(name, None, rest, word)


def report_body(text: str) -> str | None:
    """The body of a post that starts with 说事 / #说事 / /report (always a matter)."""
    m = _REPORT.match(text)
    return m.group(1).strip() if m else None


_KIND_WORDS = {
    Kind.VILLAGE: ("村里事", "村里", "村事", "公共", "1"),
    Kind.NEIGHBOUR: ("邻里事", "邻里", "纠纷", "2"),
    Kind.HOUSEHOLD: ("户里事", "户里", "家里事", "3"),
}


def parse_kind(text: str) -> Kind | None:
    word = text.strip().strip("#＃【】[]")
    for kind, words in _KIND_WORDS.items():
        if word in words:
            return kind
    return None


_RATING_WORDS = {
    "满意": Rating.SATISFIED,
    "1": Rating.SATISFIED,
    "基本满意": Rating.FAIR,
    "2": Rating.FAIR,
    "不满意": Rating.UNSATISFIED,
    "3": Rating.UNSATISFIED,
}


def parse_rating(text: str) -> Rating | None:
    return _RATING_WORDS.get(text.strip().strip("。.!！ "))


_CN_NUM = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}
_REL_DAYS = {"今天": 0, "明天": 1, "后天": 2, "大后天": 3}
# Five digits at most: "99999999天" is not a deadline, and must not reach date arithmetic.
_SPAN = re.compile(r"^([0-9]{1,5}|[一二两三四五六七八九十])\s*(d|天|日|h|小时|个小时|w|周|星期)$")
_FULL_DATE = re.compile(r"^([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})[日号]?$")
_MONTH_DAY = re.compile(r"^([0-9]{1,2})[-/.月]([0-9]{1,2})[日号]?$")
END_OF_DAY = time(18, 0)  # a deadline given as a date means the end of that working day


def parse_due(text: str, now: datetime) -> datetime | None:
    """A deadline from "3d", "3天", "12小时", "2026-12-01", "12月1日", "明天"; else None.
    Never raises: whatever a person types gives a date the caller can compare (a far one is
    refused by the caller as too far) or None."""
    try:
        return _parse_due(text, now)
    except (ValueError, OverflowError):
        return None


def _parse_due(text: str, now: datetime) -> datetime | None:
    t = text.strip().replace(" ", "").lower()
    if t in _REL_DAYS:
        day = (now + timedelta(days=_REL_DAYS[t])).date()
        return datetime.combine(day, END_OF_DAY, tzinfo=now.tzinfo)
    m = _SPAN.match(t)
    if m:
        n = int(m.group(1)) if m.group(1).isdigit() else _CN_NUM[m.group(1)]
        unit = m.group(2)
        if unit in ("h", "小时", "个小时"):
            return now + timedelta(hours=n)
        if unit in ("w", "周", "星期"):
            return now + timedelta(weeks=n)
        return now + timedelta(days=n)
    m = _FULL_DATE.match(t)
    if m:
        y, mo, d = (int(x) for x in m.groups())
        return datetime(y, mo, d, END_OF_DAY.hour, END_OF_DAY.minute, tzinfo=now.tzinfo)
    m = _MONTH_DAY.match(t)
    if m:
        mo, d = (int(x) for x in m.groups())
        when = datetime(now.year, mo, d, END_OF_DAY.hour, END_OF_DAY.minute, tzinfo=now.tzinfo)
        if when < now - timedelta(days=1):  # "1月5日" said in December means next year
            when = when.replace(year=now.year + 1)
        return when
    return None


# A button's data as the bot wrote it: "claim:12", "close:12", "rate:12:3". A forged one with
# a number too large for the database is not a button of this bot.
_BUTTON = re.compile(r"^([a-z]+):([0-9]{1,9})(?::([0-9]))?$")


@dataclass(frozen=True)
class ButtonPress:
    action: str
    number: int
    choice: int | None = None


def parse_button(data: str) -> ButtonPress | None:
    m = _BUTTON.match(data or "")
    if m is None:
        return None
    choice = int(m.group(3)) if m.group(3) is not None else None
    return ButtonPress(m.group(1), int(m.group(2)), choice)
