"""Every command and every button, fed random and extreme arguments (numbers, dates, Unicode):
the bot answers each (a command always gets a reply, a button an answer), handles it at the
first try (nothing left "new" or "failed" in the inbox) and keeps running. On SQLite and
PostgreSQL (the `app` fixture's backends)."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select

from handlers import intake
from handlers.parsing import COMMANDS
from ports.messages import Incoming
from storage.models import Inbound as InboxRow
from storage.models import Outbox
from tests.conftest import Chat

_ids = itertools.count()

NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["0", "1", "2", "999999999", "2147483648", "1e9", "#1", "＃2", "١٢", "²"]),
)
DATES = st.sampled_from(
    [
        "99999999天",
        "0001-01-01",
        "9999-12-31",
        "2026-02-30",
        "13月45日",
        "0天",
        "-1天",
        "99999小时",
        "99999w",
        "明天",
        "十天",
        "2026/12/31",
        "1e309天",
        "NaN",
    ]
)
UNICODE = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()),  # surrogates, NUL, bidi, all
    max_size=40,
)
ARGS = st.lists(st.one_of(NUMBERS, DATES, UNICODE), max_size=3).map(" ".join)
WORDS = [f"/{s}" for slashes, _ in COMMANDS.values() for s in slashes] + [
    kw for _, kws in COMMANDS.values() for kw in kws
]
PEOPLE = ["张姐", "李书记", "陈镇长", "张大爷", "路人甲"]


def _send(chat: Chat, text: str, *, sender: str, private: bool, button: str | None = None) -> int:
    msg = Incoming(
        platform="local",
        chat=sender if private else "新联村说事群",
        sender=sender,
        sender_name=sender,
        text=text,
        message_id=f"fuzz-{next(_ids)}",
        at=chat.app.clock.now(),
        private=private,
        button=button,
    )
    handled = intake.receive(chat.app.engine, chat.app.deps, msg)
    assert handled.inbound_id is not None
    if button is not None:
        assert handled.answer  # every press is answered (an alert when refused)
    return handled.inbound_id


def _row(chat: Chat, inbound_id: int) -> InboxRow:
    with Session(chat.app.engine) as session:
        row = session.get(InboxRow, inbound_id)
        assert row is not None
        return row


def _replies(chat: Chat, message_id: str) -> int:
    with Session(chat.app.engine) as session:
        return session.exec(
            select(func.count()).select_from(Outbox).where(Outbox.reply_to == message_id)
        ).one()


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # the same examples on every machine: no example database in the checkout
    derandomize=True,
)


@FUZZ
@given(
    word=st.sampled_from(WORDS),
    args=ARGS,
    who=st.sampled_from(PEOPLE),
    private=st.booleans(),
)
def test_every_command_with_any_arguments_is_answered(
    chat: Chat, word: str, args: str, who: str, private: bool
) -> None:
    if not getattr(chat, "seeded", False):
        chat.say("张大爷: 说事 村口路灯坏了，晚上看不见路")
        chat.say("老周: #户里事 我家低保一直没批下来")
        chat.seeded = True  # type: ignore[attr-defined]
    inbound_id = _send(chat, f"{word} {args}", sender=who, private=private)
    row = _row(chat, inbound_id)
    assert row.status not in ("new", "failed"), (word, args, row.error)
    if row.status == "command":
        assert _replies(chat, row.message_id) >= 1


@FUZZ
@given(
    action=st.sampled_from(["claim", "close", "rate", "note", ""]),
    parts=st.lists(st.one_of(NUMBERS, UNICODE), max_size=3),
    who=st.sampled_from(PEOPLE),
)
def test_every_button_with_any_payload_is_answered(
    chat: Chat, action: str, parts: list[str], who: str
) -> None:
    if not getattr(chat, "seeded", False):
        chat.say("张大爷: 说事 村口路灯坏了，晚上看不见路")
        chat.seeded = True  # type: ignore[attr-defined]
    data = ":".join([action, *parts])
    inbound_id = _send(chat, "", sender=who, private=False, button=data)
    row = _row(chat, inbound_id)
    assert row.status not in ("new", "failed"), (data, row.error)


def test_after_the_fuzz_the_bot_still_works_and_restarts(chat: Chat) -> None:
    for text in ("限期 1 99999999天", "认领 99999999999999999999", "查询 ١", "办结 1 \x00"):
        _send(chat, text, sender="张姐", private=True)
    assert intake.resume_pending(chat.app.engine, chat.app.deps) == 0
    assert any("#1" in line for line in chat.bot_lines("张大爷: 说事 桥上的栏杆断了"))
