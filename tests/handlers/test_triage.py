"""Triage (issue 15, part 4): a post the bot is unsure of is answered by nobody in the group yet;
a person of the grid gets a private card and decides. Cards are merged, wait out the quiet
hours, and go to the 书记's to-do when nobody answers in 4 hours."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from classifier.base import Prediction
from storage.models import Inbound, Issue, LabeledExample, Outbox
from tests.conftest import Chat


class Unsure:
    """A classifier unsure of every post: matter 0.5, most likely the kind given."""

    def __init__(self, kind: str = "户里事") -> None:
        self.kind = kind

    def predict(self, text: str) -> Prediction:
        return Prediction("非事项", 0.5, 0.5, self.kind, 0.6)


@pytest.fixture
def unsure(chat: Chat) -> Chat:
    chat.app.deps.classifier = Unsure()  # type: ignore[assignment]
    return chat


def _post_id(chat: Chat, text: str) -> int:
    with Session(chat.app.engine) as session:
        row = session.exec(select(Inbound).where(Inbound.text == text)).one()
        assert row.status == "unsure" and row.id is not None
        return row.id


def _cards_to(chat: Chat, name: str) -> list[Outbox]:
    with Session(chat.app.engine) as session:
        return list(
            session.exec(
                select(Outbox).where(Outbox.recipient == name, Outbox.category == "triage")
            ).all()
        )


def test_unsure_post_is_silent_in_the_group_and_carded_once_gathered(unsure: Chat) -> None:
    lines = unsure.say("张大爷: 我家老房子漏雨了，不知道能不能申请补助")
    assert [line for line in lines if " → " in line] == []  # nobody answered in the group
    post = _post_id(unsure, "我家老房子漏雨了，不知道能不能申请补助")
    later = unsure.say("@wait 5m")
    [card] = [line for line in later if "张姐 (私聊)" in line]  # 户里事 → 张姐 takes it
    assert f"帖{post}" in card and "张大爷" in card and "户里事" in card and "漏雨" in card
    assert f"[登记 帖{post}]" in card and f"[不是 帖{post}]" in card


def test_cards_of_a_few_minutes_come_as_one_message(unsure: Chat) -> None:
    unsure.say("张大爷: 我家老房子漏雨了\n刘婶: 我娘腿摔了没人照看")
    unsure.say("@wait 1m\n老周: 我家电表好像坏了")
    unsure.say("@wait 10m")
    [message] = _cards_to(unsure, "张姐")
    assert message.text.count("帖") >= 3 and "漏雨" in message.text and "电表" in message.text
    data = [d for _, d in json.loads(message.buttons)]
    assert len(data) == 6 and all(d.startswith(("reg:", "notm:")) for d in data)


def test_register_from_a_card_answers_the_villager_in_the_group(unsure: Chat) -> None:
    unsure.say("张大爷: 我家老房子漏雨了，不知道能不能申请补助\n@wait 5m")
    post = _post_id(unsure, "我家老房子漏雨了，不知道能不能申请补助")
    unsure.runner.chat = None
    out = unsure.bot_lines(f"张姐: 登记 帖{post}")
    unsure.runner.chat = unsure.runner._local_chat("新联村说事群")
    assert any("#1" in line and "张姐 (私聊)" in line for line in out)  # the cadre is told
    group = [line for line in out if "→ 新联村说事群" in line]
    assert len(group) == 1 and "@张大爷" in group[0] and "#1" in group[0]
    assert "漏雨" not in group[0]  # 户里事: the group sees the stub
    with Session(unsure.app.engine) as session:
        issue = session.exec(select(Issue)).one()
        assert (issue.kind, issue.reporter) == ("户里事", "local:张大爷")
        ack = session.exec(select(Outbox).where(Outbox.issue_id == issue.id)).first()
        original = session.get(Inbound, post)
        assert ack is not None and original is not None
        assert ack.reply_to == original.message_id  # a reply to the villager's post
        example = session.exec(select(LabeledExample)).one()
        assert example.label == "户里事"
    # The same card answered again: nothing twice.
    unsure.runner.chat = None
    assert "处理过" in unsure.bot_lines(f"张姐: 登记 帖{post}")[0]


def test_not_a_matter_keeps_the_post_as_chatter_and_learns(unsure: Chat) -> None:
    unsure.say("张大爷: 今天太阳好，晒晒被子\n@wait 5m")
    post = _post_id(unsure, "今天太阳好，晒晒被子")
    unsure.runner.chat = None
    assert "不是事项" in unsure.bot_lines(f"张姐: 不是 帖{post}")[0]
    with Session(unsure.app.engine) as session:
        assert session.get(Inbound, post).status == "chatter"  # type: ignore[union-attr]
        assert session.exec(select(LabeledExample)).one().label == "非事项"
        assert session.exec(select(Issue)).all() == []


def test_a_stranger_cannot_answer_a_card_and_a_villager_saying_buzhi_is_a_post(
    unsure: Chat,
) -> None:
    unsure.say("张大爷: 我家老房子漏雨了")
    post = _post_id(unsure, "我家老房子漏雨了")
    unsure.runner.chat = None
    assert "不是您村里的" in unsure.bot_lines(f"路人甲: 登记 帖{post}")[0]
    unsure.runner.chat = unsure.runner._local_chat("新联村说事群")
    unsure.say("刘婶: 不是，我是说后山的路")  # an ordinary post, kept like any other
    with Session(unsure.app.engine) as session:
        assert session.exec(select(Issue)).all() == []
        row = session.exec(select(Inbound).where(Inbound.text == "不是，我是说后山的路")).one()
        assert row.status == "unsure"


def test_cards_wait_out_the_quiet_hours(unsure: Chat) -> None:
    unsure.say("@at 2026-11-23 22:10\n张大爷: 我家老房子漏雨了")
    night = unsure.say("@at 2026-11-24 07:00")
    assert not any("张姐 (私聊)" in line and "帖" in line for line in night)
    morning = unsure.say("@at 2026-11-24 07:45")
    assert any("张姐 (私聊)" in line and "漏雨" in line for line in morning)


def test_a_card_nobody_answers_goes_into_the_secretarys_todo(unsure: Chat) -> None:
    unsure.say("张大爷: 我家老房子漏雨了")
    post = _post_id(unsure, "我家老房子漏雨了")
    lines = unsure.say("@at 2026-11-24 08:30")
    todo = [line for line in lines if "李书记 (私聊)" in line]
    assert todo and f"帖{post}" in todo[0] and "拿不准" in todo[0]
