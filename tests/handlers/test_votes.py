"""议事 on the local platform: a 书记 puts a question to the group, villagers answer with a
choice's words or number (the last one counts), the result is posted at the deadline and kept
on the issue's timeline."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import Ballot, Event, Issue
from tests.conftest import Chat


def _events(chat: Chat, number: int) -> list[Event]:
    with Session(chat.app.engine) as session:
        issue = session.exec(select(Issue).where(Issue.number == number)).one()
        return list(session.exec(select(Event).where(Event.issue_id == issue.id)))


def test_a_vote_by_keywords_counts_one_ballot_per_person_and_posts_the_result(chat: Chat) -> None:
    chat.say("@at 2026-11-23 09:00\n张大爷: #村里事 村口的路坑坑洼洼，下雨全是泥")
    opened = chat.say("李书记: 议事 1 修村口路每户出工两天 同意/不同意/弃权 3天")
    text = "\n".join(opened)
    assert "修村口路每户出工两天" in text and "1. 同意" in text and "3. 弃权" in text
    chat.say(
        "张大爷: 同意\n"
        "李大妈: 2\n"
        "老周: 不同意\n"
        "老周: 1\n"  # the last one counts
        "路人甲: 弃权！\n"
        "王大爷: 同意这个办法，但是要先说清楚"  # not exactly a choice: an ordinary post
    )
    assert chat.count(Ballot) == 4
    chat.say("@in 石桥村说事群\n老赵: 同意\n@in 新联村说事群")  # not the vote's group
    assert chat.count(Ballot) == 4
    result = "\n".join(chat.say("@at 2026-11-26 10:00"))
    assert "同意：2票" in result and "不同意：1票" in result and "弃权：1票" in result
    assert "共4人投票" in result
    kinds = [e.kind for e in _events(chat, 1)]
    assert "vote" in kinds and "vote_result" in kinds
    # Closed: the same words are ordinary posts again.
    chat.say("张大爷: 同意")
    assert chat.count(Ballot) == 4


def test_only_a_secretary_starts_a_vote_and_only_on_a_village_matter(chat: Chat) -> None:
    chat.say("张大爷: #村里事 村口的路坑坑洼洼\n李大妈: #邻里事 隔壁老刘家的水往我家院子里排")
    assert any("只有书记和镇领导" in line for line in chat.say("张姐: 议事 1 修路 同意/不同意 3天"))
    assert any("只用于村里事" in line for line in chat.say("李书记: 议事 2 改排水沟 3天"))
    assert chat.count(Ballot) == 0
    # A vote elsewhere does not make this group's words ballots.
    chat.say("张大爷: 同意")
    assert chat.count(Ballot) == 0


def test_a_bare_number_stays_a_rating_unless_it_replies_to_the_vote(chat: Chat) -> None:
    chat.say("张大爷: #村里事 村口路灯坏了好几天了\n张姐: 认领 1\n张姐: 办结 1 已换新灯泡")
    chat.say("老周: #村里事 村口的路坑坑洼洼\n李书记: 议事 2 修村口路 同意/不同意 3天")
    rated = chat.say("张大爷: 1")  # asked to rate #1: a rating
    assert any("满意" in line for line in rated)
    assert chat.count(Ballot) == 0
    chat.say("老周: 1")  # asked nothing: a ballot
    assert chat.count(Ballot) == 1
