"""Issue 15, part 5: a household's or a dispute's words never reach the group because the model
was unsure of the kind. A 村里事 that may be 户里事 or 邻里事 shows the group only the stub; its
owner reads it and publishes it by setting the kind. And a sentence that starts like a
command is a post, not a refusal."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from classifier.base import Prediction
from storage.models import Issue
from tests.conftest import Chat


class VillageButMaybeHousehold:
    """Sure it is a matter, 村里事 most likely, but 户里事 not far behind."""

    def predict(self, text: str) -> Prediction:
        return Prediction("村里事", 0.55, 0.9, "村里事", 0.6)


class SurelyVillage:
    def predict(self, text: str) -> Prediction:
        return Prediction("村里事", 0.9, 0.95, "村里事", 0.95)


@pytest.fixture
def unsure_kind(chat: Chat) -> Chat:
    chat.app.deps.classifier = VillageButMaybeHousehold()  # type: ignore[assignment]
    return chat


def _dm(chat: Chat, line: str) -> list[str]:
    chat.runner.chat = None
    try:
        return chat.bot_lines(line)
    finally:
        chat.runner.chat = chat.runner._local_chat("新联村说事群")


def test_the_group_sees_the_stub_when_the_kind_may_be_private(unsure_kind: Chat) -> None:
    out = unsure_kind.bot_lines("王奶奶: 我年纪大了不会用手机交电费，谁能帮帮我")
    [ack] = [line for line in out if "→ 新联村说事群" in line]
    assert "#1" in ack and "村里事" in ack and "电费" not in ack
    with Session(unsure_kind.app.engine) as session:
        issue = session.exec(select(Issue)).one()
        assert issue.kind == "村里事" and issue.group_stub
    assert "电费" not in unsure_kind.bot_lines("王奶奶: 查询 1")[0]  # in the group: the stub
    owner = [line for line in out if "(私聊)" in line]
    assert owner and "电费" in owner[0]  # the owner is told the words
    assert "电费" in _dm(unsure_kind, "李书记: 查询 1")[0]
    assert "电费" not in _dm(unsure_kind, "王哥: 查询 1")[0]  # a grid member not its owner


def test_the_owner_publishes_it_by_setting_the_kind(unsure_kind: Chat) -> None:
    unsure_kind.say("王奶奶: 村口那段路的路灯一直不亮")
    with Session(unsure_kind.app.engine) as session:
        owner_id = session.exec(select(Issue)).one().owner_id
    owner = {2: "张姐", 3: "王哥"}.get(owner_id or 0, "张姐")
    assert "改" in _dm(unsure_kind, f"{owner}: 改类 1 村里事")[0]
    assert "路灯" in unsure_kind.bot_lines("王奶奶: 查询 1")[0]


def test_a_sure_village_matter_is_shown_as_before(chat: Chat) -> None:
    chat.app.deps.classifier = SurelyVillage()  # type: ignore[assignment]
    out = chat.bot_lines("张大爷: 村口路灯坏了")
    assert any("路灯" in line and "→ 新联村说事群" in line for line in out)


@pytest.mark.parametrize(
    "post", ["查询 我家的低保批下来没有", "帮助 村里的孤寡老人过冬", "我的 电动车在村口被人划了"]
)
def test_a_sentence_that_starts_like_a_command_is_a_post(chat: Chat, post: str) -> None:
    chat.app.deps.classifier = SurelyVillage()  # type: ignore[assignment]
    out = chat.bot_lines(f"张大爷: {post}")
    assert any("#1" in line for line in out)  # registered, not refused
