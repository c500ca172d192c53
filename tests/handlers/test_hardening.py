"""Issue 14: one bad message never stops the bot, private matters stay private, every text is
cleaned at the door. Each test failed before its fix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from handlers import intake
from ports.hygiene import MAX_TEXT
from ports.messages import Incoming
from storage import inbox
from storage.models import Inbound as InboxRow
from storage.models import Issue
from tests.conftest import Chat


@pytest.fixture
def seeded(chat: Chat) -> Chat:
    chat.say("张大爷: 村口路灯坏了，晚上看不见路")  # #1 村里事, owner 张姐
    chat.say("老周: #户里事 我家低保一直没批下来，身份证110101199003071234")  # #2 户里事
    return chat


def _dm(chat: Chat, line: str) -> list[str]:
    chat.runner.chat = None
    try:
        return chat.bot_lines(line)
    finally:
        chat.runner.chat = chat.runner._local_chat("新联村说事群")


def _msg(
    chat: Chat,
    text: str,
    *,
    mid: str,
    sender: str = "张大爷",
    room: str = "新联村说事群",
    **kw: object,
) -> Incoming:
    return Incoming(
        platform="local",
        chat=room,
        sender=sender,
        sender_name=kw.pop("sender_name", sender),  # type: ignore[arg-type]
        text=text,
        message_id=mid,
        at=chat.app.clock.now(),
        **kw,  # type: ignore[arg-type]
    )


def _rows(chat: Chat) -> list[InboxRow]:
    with Session(chat.app.engine) as session:
        return list(session.exec(select(InboxRow).order_by(InboxRow.id)).all())


# ---------------------------------------------------------------- 1. dates and numbers


@pytest.mark.parametrize("arg", ["99999999天", "99999w", "9999-12-31", "0001-01-01", "99999小时"])
def test_absurd_deadline_is_refused_and_nothing_stops(seeded: Chat, arg: str) -> None:
    out = seeded.bot_lines(f"张姐: 限期 1 {arg}")
    assert len(out) == 1 and any(w in out[0] for w in ("太远", "看不懂", "不能早于"))
    assert intake.resume_pending(seeded.app.engine, seeded.app.deps) == 0
    assert all(row.status != "new" for row in _rows(seeded))


def test_a_stranger_is_told_about_permission_before_the_date(seeded: Chat) -> None:
    out = _dm(seeded, "路人甲: 限期 1 99999999天")
    assert len(out) == 1 and "网格" in out[0]  # not a word about the date


def test_forged_button_with_a_huge_number_is_stale(seeded: Chat) -> None:
    for data in ("claim:99999999999999999999999", "rate:1:²", "claim:-1", "close:1:2:3:4"):
        handled = seeded.runner.deliver(
            _msg(seeded, "", mid=f"b-{data}", sender="张姐", button=data)
        )
        assert handled.alert and handled.answer
    assert intake.resume_pending(seeded.app.engine, seeded.app.deps) == 0


# ---------------------------------------------------------------- 1/4. failures are retried


class Flaky:
    """A classifier that fails the first `fails` times it is asked (a bug, a full disk)."""

    def __init__(self, inner: object, fails: int) -> None:
        self.inner, self.fails = inner, fails

    def predict(self, text: str) -> object:
        if self.fails > 0:
            self.fails -= 1
            raise OverflowError("date value out of range")
        return self.inner.predict(text)  # type: ignore[attr-defined]


def test_failed_message_is_retried_while_running_then_handled(seeded: Chat) -> None:
    app = seeded.app
    app.deps.classifier = Flaky(app.deps.classifier, fails=2)  # type: ignore[assignment]
    intake.receive(app.engine, app.deps, _msg(seeded, "桥头的水管爆了", mid="f-1"))
    row = _rows(seeded)[-1]
    assert (row.status, row.tries) == ("new", 1) and "OverflowError" in (row.error or "")
    assert "水管" not in (row.error or "")  # what went wrong, never what was written
    assert intake.retry_due(app.engine, app.deps) == 0  # not yet: backoff
    app.clock.set(app.clock.now() + timedelta(seconds=11))  # type: ignore[attr-defined]
    assert intake.retry_due(app.engine, app.deps) == 1  # fails a second time
    assert _rows(seeded)[-1].tries == 2
    app.clock.set(app.clock.now() + timedelta(minutes=2))  # type: ignore[attr-defined]
    assert intake.retry_due(app.engine, app.deps) == 1
    assert _rows(seeded)[-1].status == "matter"
    with Session(app.engine) as session:
        assert session.exec(select(Issue).where(Issue.text == "桥头的水管爆了")).one()


def test_a_message_that_always_fails_is_set_aside_and_never_blocks(seeded: Chat) -> None:
    app = seeded.app
    app.deps.classifier = Flaky(app.deps.classifier, fails=10**6)  # type: ignore[assignment]
    intake.receive(app.engine, app.deps, _msg(seeded, "这条总是出错", mid="bad-1"))
    for _ in range(inbox.MAX_TRIES + 2):
        app.clock.set(app.clock.now() + timedelta(hours=1))  # type: ignore[attr-defined]
        intake.retry_due(app.engine, app.deps)
        intake.resume_pending(app.engine, app.deps)  # a restart: never raises
    row = _rows(seeded)[-1]
    assert row.status == "failed" and row.tries == inbox.MAX_TRIES
    app.deps.classifier = app.deps.classifier.inner  # type: ignore[attr-defined]
    assert any("#3" in line for line in seeded.bot_lines("张大爷: 说事 村委会门口的井盖没了"))
    with Session(app.engine) as session:
        listed = inbox.unhandled(session)
        assert [u.status for u in listed] == ["failed"] and inbox.counts(session)["failed"] == 1
    with Session(app.engine) as session, session.begin():
        assert inbox.requeue(session.connection(), None) == 1  # after the cause is fixed
    assert intake.resume_pending(app.engine, app.deps) == 1
    assert _rows(seeded)[-2].status not in ("new", "failed")  # handled this time


# ---------------------------------------------------------------- 2. private matters


def test_a_stranger_reads_nothing_of_any_issue(seeded: Chat) -> None:
    for n in (1, 2, 3, 10):
        out = _dm(seeded, f"路人甲: 查询 {n}")
        assert len(out) == 1 and "没有" in out[0] and "低保" not in out[0]
        assert "路灯" not in out[0]


def test_private_kind_text_only_to_reporter_owner_secretary_town(seeded: Chat) -> None:
    with Session(seeded.app.engine) as session:
        owner = session.exec(select(Issue).where(Issue.number == 2)).one().owner_id
    assert owner is not None
    for who in ("老周", "张姐", "李书记", "陈镇长"):  # reporter, owner (户里事 → 张姐), 书记, 镇
        out = _dm(seeded, f"{who}: 查询 2")
        assert "低保" in out[0], who
        assert "110101199003071234" not in out[0]  # masked even for them
    for who in ("张大爷", "王哥"):  # a villager of the group, a grid member who does not own it
        out = _dm(seeded, f"{who}: 查询 2")
        assert "#2" in out[0] and "低保" not in out[0], who
    out = _dm(seeded, "刘叔: 查询 2")  # grid member of another village
    assert "低保" not in out[0]
    # A 村里事 is read by its village's people, as the group reads it.
    assert "路灯" in _dm(seeded, "张大爷: 查询 1")[0]


def test_status_in_the_group_shows_only_the_stub_of_private_kinds(seeded: Chat) -> None:
    out = seeded.bot_lines("老周: 查询 2")
    assert "#2" in out[0] and "低保" not in out[0]


# ---------------------------------------------------------------- 3. text cleaning


def test_nul_surrogates_and_controls_are_cleaned_at_the_door(seeded: Chat) -> None:
    app = seeded.app
    intake.receive(
        app.engine,
        app.deps,
        _msg(seeded, "说事 水渠\u0000堵了\ud800\x07", mid="nul-1", sender_name="张\0大\u202e爷"),
    )
    row = _rows(seeded)[-1]
    assert row.status == "matter"
    with Session(app.engine) as session:
        issue = session.exec(select(Issue).where(Issue.id == row.issue_id)).one()
    assert issue.text == "水渠堵了\ufffd"
    assert issue.reporter_name == "张大爷"
    assert intake.resume_pending(app.engine, app.deps) == 0
    # the next message goes through as usual
    assert any("#4" in line for line in seeded.bot_lines("张大爷: 说事 桥上的栏杆断了"))


def test_bidi_and_zero_width_never_reach_an_echo(seeded: Chat) -> None:
    out = seeded.bot_lines("张大爷: 说事 祠堂\u202e的屋顶\u200b漏雨\u2066三处")
    assert out and all(ch not in line for line in out for ch in "\u202e\u200b\u2066")
    assert "祠堂的屋顶漏雨三处" in out[0]


def test_a_post_longer_than_the_cap_is_cut_and_says_so(seeded: Chat) -> None:
    long = "村里那条路" * (MAX_TEXT // 5 + 100)
    seeded.bot_lines(f"张大爷: 说事 {long}")
    with Session(seeded.app.engine) as session:
        issue = session.exec(select(Issue).where(Issue.number == 3)).one()
    assert len(issue.text) < MAX_TEXT + 60 and "太长" in issue.text


def test_unknown_group_posts_are_counted_without_their_words(chat: Chat) -> None:
    intake.receive(
        chat.app.engine,
        chat.app.deps,
        _msg(chat, "我的电话13812345678，路灯坏了", mid="u-1", room="陌生群"),
    )
    row = _rows(chat)[-1]
    assert (row.status, row.chat, row.text, row.sender_name, row.sender) == (
        "ignored",
        "陌生群",
        "",
        "",
        "",
    )
