"""Bad input never crashes and never changes what it should not: a short reply, or silence."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from handlers.intake import receive
from ports.messages import Attachment, Incoming
from storage.models import Event, Issue, Outbox
from tests.conftest import Chat


def snapshot(chat: Chat) -> list[tuple[int, str, str, int | None, str]]:
    with Session(chat.app.engine) as session:
        return [
            (i.number, i.status, i.kind, i.owner_id, i.due_at.isoformat())
            for i in session.exec(select(Issue).order_by(Issue.number)).all()
        ] + [(-1, "events", str(chat.count(Event)), None, "")]


@pytest.fixture
def seeded(chat: Chat) -> Chat:
    chat.say("张大爷: 村口路灯坏了，晚上看不见路")  # #1 村里事 张姐
    chat.say("老周: #邻里事 邻居家的猪跑我地里把菜啃了")  # #2 邻里事 王哥
    return chat


def test_redelivered_message_makes_one_issue_and_one_reply(app) -> None:  # type: ignore[no-untyped-def]
    msg = Incoming(
        platform="local",
        chat="新联村说事群",
        sender="张大爷",
        sender_name="张大爷",
        text="村口的路灯坏了三天了",
        message_id="same-id",
        at=app.clock.now(),
    )
    first = receive(app.engine, app.deps, msg)
    second = receive(app.engine, app.deps, msg)
    assert not first.duplicate and second.duplicate
    with Session(app.engine) as session:
        assert len(session.exec(select(Issue)).all()) == 1
        replies = session.exec(select(Outbox).where(Outbox.reply_to == "same-id")).all()
        assert len(replies) == 1


@pytest.mark.parametrize(
    ("line", "expect"),
    [
        ("张姐: 认领 999", "没有 #999"),
        ("张姐: 办结 abc", "编号"),
        ("张姐: 限期 1 ；；；", "看不懂期限"),
        ("张姐: 限期 1 99999天", "太远"),
        ("张姐: 改类 1 <script>alert(1)</script>", "请写类别"),
        ("李书记: 指派 1 '; DROP TABLE issue; --", "网格里没有"),
        ("王哥: 办结 1 我来办", "只有负责人"),  # someone else's issue
        ("刘叔: 办结 1 修好了", "新联村"),  # a cadre of another village
        ("赵书记: 指派 1 刘叔", "新联村"),
        ("张大爷: 办结 1 修好了", "只有网格员"),
        ("张大爷: 撤回 2", "只有反映人"),
        ("张姐: 认领 12345678901234567890", "编号"),
        ("张大爷: /claim@OtherBot", "编号"),  # no matter waits for him: nothing to mean
    ],
)
def test_refusals_leave_state_unchanged(seeded: Chat, line: str, expect: str) -> None:
    before = snapshot(seeded)
    out = seeded.bot_lines(line)
    assert len(out) == 1 and expect in out[0]
    assert snapshot(seeded) == before


@pytest.mark.parametrize(
    "text",
    ["", "   ", "😀😀😀", "[捂脸][捂脸]", "？？？", "。", "哈哈哈哈"],
)
def test_empty_and_emoji_posts_are_silent(seeded: Chat, text: str) -> None:
    before = snapshot(seeded)
    assert seeded.bot_lines(f"张大爷: {text}") == []
    assert snapshot(seeded) == before


def test_sticker_is_silent(seeded: Chat) -> None:
    before = snapshot(seeded)
    handled = seeded.runner.deliver(
        Incoming(
            platform="local",
            chat="新联村说事群",
            sender="张大爷",
            sender_name="张大爷",
            text="",
            message_id="sticker-1",
            at=seeded.app.clock.now(),
            attachments=(Attachment("sticker", "s-1"),),
        )
    )
    assert handled.inbound_id is not None
    assert snapshot(seeded) == before


def test_ten_thousand_characters_are_kept_whole(seeded: Chat) -> None:
    long = "村里那条主路坑坑洼洼下雨全是水" * 667  # ~10,000 characters
    out = seeded.bot_lines(f"张大爷: 说事 {long}")
    assert out and "#3" in out[0] and len(out[0]) < 300  # the group sees a summary
    with Session(seeded.app.engine) as session:
        issue = session.exec(select(Issue).where(Issue.number == 3)).one()
        assert issue.text == long


def test_html_and_sql_text_is_stored_as_written(seeded: Chat) -> None:
    evil = "说事 <script>alert('x')</script>'; DROP TABLE issue; -- 村里账目一直不公开"
    out = seeded.bot_lines(f"张大爷: {evil}")
    assert any("#3" in line for line in out)
    with Session(seeded.app.engine) as session:
        issue = session.exec(select(Issue).where(Issue.number == 3)).one()
        assert "<script>" in issue.text and "DROP TABLE" in issue.text
        assert len(session.exec(select(Issue)).all()) == 3


def test_unknown_group_gets_one_hint_then_silence(chat: Chat) -> None:
    chat.runner.chat = "陌生群"
    first = chat.bot_lines("张大爷: 路灯坏了\n张大爷: 路灯还是坏的")
    assert len(first) == 1 and "local:陌生群" in first[0]
    assert chat.count(Issue) == 0


def test_bind_code_links_a_platform_account(chat: Chat) -> None:
    from datetime import datetime

    from storage.models import BindCode, Person

    with Session(chat.app.engine) as session:
        zhang = session.exec(select(Person).where(Person.name == "张姐")).one()
        session.add(
            BindCode(code="424242", person_id=zhang.id or 0, created_at=datetime.now().astimezone())
        )
        session.commit()
    chat.runner.chat = None
    assert "绑定码不对" in chat.bot_lines("小号: 绑定 000000")[0]
    assert "绑定成功" in chat.bot_lines("小号: 绑定 424242")[0]
    assert "绑定码不对" in chat.bot_lines("别人: 绑定 424242")[0]  # one-time
    chat.runner.chat = chat.runner._local_chat("新联村说事群")
    chat.say("张大爷: 村口路灯坏了")
    assert "已由张姐认领" in chat.bot_lines("小号: 认领 1")[0]
