"""The privacy rule (issue 14, handlers.privacy.sees_text) across the new features of issues
17–19: a 户里事's or 邻里事's words are read by its reporter, its owner, its village's 书记 and
the 镇领导 only; everyone else (the group, other grid members, the village pool, a former
owner) sees the stub: number, kind, status."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.app import App
from classifier.base import Prediction
from storage.models import Issue, Person
from tests.conftest import Chat


def owner(app: App, number: int) -> str:
    with Session(app.engine) as session:
        issue = session.exec(select(Issue).where(Issue.number == number)).one()
        found = session.get(Person, issue.owner_id)
        return found.name if found else ""


def told(lines: list[str], who: str) -> list[str]:
    return [line for line in lines if f"→ {who} (私聊)" in line]


def test_the_village_pool_hears_of_a_late_household_matter_of_a_team_without_its_words(
    chat: Chat,
) -> None:
    chat.say("@in 石桥村说事群")
    chat.say("老马: 我是三组的")
    chat.say("老马: #户里事 我家低保一直没批下来，电话13812345678")
    assert owner(chat.app, 1) == "周大姐"  # the 组's ten-household member, at 组 level
    out = chat.say("@at 2026-11-30 09:30")  # late (3 days): the 村 rung above the 组
    pool = [line for line in told(out, "刘叔") if "#1" in line]
    assert pool, out  # the pool is told it is late …
    assert all("低保" not in line and "1381" not in line for line in pool)  # … not what it is
    assert "户里事" in pool[0]
    # Its readers still read it: the owner and the village's 书记.
    assert any("低保" in line for line in told(out, "周大姐"))
    assert any("低保" in line for line in told(out, "赵书记"))


def test_a_former_owner_is_told_to_stop_without_the_words(chat: Chat) -> None:
    chat.say("@in 石桥村说事群")
    chat.say("老马: #户里事 我家屋顶漏雨，老伴身体不好")
    assert owner(chat.app, 1) == "刘叔"
    out = chat.say("赵书记: 指派 1 周大姐")
    away = [line for line in told(out, "刘叔") if "#1" in line]
    assert away and all("屋顶" not in line for line in away)
    assert any("屋顶" in line for line in told(out, "周大姐"))  # the new owner reads it
    # 认领 by the 书记 takes it from 周大姐: told, also without the words.
    out = chat.say("赵书记: 认领 1")
    away = [line for line in told(out, "周大姐") if "#1" in line]
    assert away and all("屋顶" not in line for line in away)
    # A 村里事's former owner still gets its words (the group reads them too).
    chat.say("老马: #村里事 村口路灯坏了")
    out = chat.say("赵书记: 指派 2 孙组长")
    assert any("路灯" in line for line in told(out, "刘叔"))


class VillageButMaybeHousehold:
    """Sure it is a matter, 村里事 most likely, but 户里事 not far behind: the group's stub."""

    def predict(self, text: str) -> Prediction:
        return Prediction("村里事", 0.55, 0.9, "村里事", 0.6)


@pytest.fixture
def unsure_kind(chat: Chat) -> Chat:
    chat.app.deps.classifier = VillageButMaybeHousehold()  # type: ignore[assignment]
    return chat


def test_a_vote_on_a_matter_the_group_reads_as_a_stub_does_not_post_its_words(
    unsure_kind: Chat,
) -> None:
    out = unsure_kind.bot_lines("王奶奶: 我年纪大了不会用手机交电费，谁能帮帮我")
    assert all("电费" not in line for line in out if "→ 新联村说事群" in line)
    # The 书记 puts it to the vote without a question of his own.
    out = unsure_kind.bot_lines("李书记: 议事 1 同意/不同意 3天")
    group = [line for line in out if "→ 新联村说事群" in line]
    assert group and all("电费" not in line for line in group), out
    # Its owner and the 书记 still read its words (查询 in private).
    assert any("电费" in line for line in unsure_kind.bot_lines("@dm\n李书记: 查询 1"))


def test_a_town_mediator_reads_a_dispute_once_invited_to_help(chat: Chat) -> None:
    """Issue 18: mediators are "assigned or invited to a 邻里事". Invited, 吴律师 is sent its
    words, and from then on reads them as its owner does; before, he is no reader."""
    chat.say("@in 石桥村说事群")
    chat.say("老马: 我是三组的")
    chat.say("老马: #邻里事 隔壁的牛吃了我家的菜")
    assert owner(chat.app, 1) == "孙组长"
    before = "\n".join(chat.bot_lines("@dm\n吴律师: 查询 1"))
    assert "牛吃了" not in before
    chat.say("@in 石桥村说事群")
    out = chat.say("孙组长: 邀请 1 吴律师")
    assert any("牛吃了" in line for line in told(out, "吴律师"))
    assert all("牛吃了" not in line for line in out if "→ 石桥村说事群" in line)
    after = "\n".join(chat.bot_lines("@dm\n吴律师: 查询 1"))
    assert "牛吃了" in after and "#1" in after
    # In the group he reads what the group does: the stub.
    chat.say("@in 石桥村说事群")
    assert "牛吃了" not in "\n".join(chat.bot_lines("吴律师: 查询 1"))
    # A grid member of the village not its owner still sees the stub.
    assert "牛吃了" not in "\n".join(chat.bot_lines("@dm\n刘叔: 查询 1"))


def test_the_village_pool_hears_of_a_late_stub_village_matter_without_its_words(
    unsure_kind: Chat,
) -> None:
    """A 村里事 the group reads only as a stub (the bot was unsure it is not a household's)
    is no more the village pool's to read than a 户里事: the sweep carries `group_stub`."""
    chat = unsure_kind
    chat.say("@in 石桥村说事群")
    chat.say("老马: 我是三组的")
    chat.say("老马: 我家门口那段路灯坏了，电话13812345678")
    with Session(chat.app.engine) as session:
        issue = session.exec(select(Issue).where(Issue.number == 1)).one()
        assert issue.kind == "村里事" and issue.group_stub and issue.level == "group"
    out = chat.say("@at 2026-11-30 09:30")
    pool = [line for line in told(out, "刘叔") if "#1" in line]
    assert pool and all("路灯" not in line and "1381" not in line for line in pool)
