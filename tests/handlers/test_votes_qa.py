"""议事 on odd words: what villagers type while a vote is open never breaks the post."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from handlers.clock import FakeClock
from handlers.votes import PollAnswer, receive_answer, record_poll
from storage.models import Ballot, Inbound, Vote
from tests.conftest import Chat


def test_a_circled_or_superscript_number_during_a_vote_is_an_ordinary_post(chat: Chat) -> None:
    chat.say("张大爷: #村里事 村口的路坑坑洼洼，下雨全是泥")
    chat.say("李书记: 议事 1 修村口路每户出工两天 同意/不同意/弃权 3天")
    chat.say("张大爷: ①\n李大妈: ²\n老周: １")  # a full-width 1 is the first choice
    with Session(chat.app.engine) as session:
        rows = session.exec(select(Inbound).where(Inbound.text.in_(["①", "²"]))).all()  # type: ignore[attr-defined]
        assert [r.error for r in rows] == [None, None]
        assert all(r.tries == 0 for r in rows)
    assert chat.count(Ballot) == 1


def test_a_poll_answer_after_the_deadline_is_no_ballot_even_before_the_count(chat: Chat) -> None:
    # The keyword path refuses a ballot once the deadline has come; a native poll's answer that
    # arrives before the scheduler's next sweep closes the vote must not count either.
    chat.say("张大爷: #村里事 村口的路坑坑洼洼，下雨全是泥")
    chat.say("李书记: 议事 1 修村口路每户出工两天 同意/不同意/弃权 3天")
    app = chat.app
    with Session(app.engine) as session:
        vote = session.exec(select(Vote)).one()
    record_poll(app.engine, vote_id=vote.id or 0, chat="-100", poll_id="p1", message_id="7")
    clock = app.clock
    assert isinstance(clock, FakeClock)

    def answer(user: str) -> bool:
        return receive_answer(
            app.engine,
            app.deps,
            PollAnswer("telegram", "p1", f"telegram:{user}", user, (0,), clock.now()),
        )

    assert answer("1") and chat.count(Ballot) == 1
    clock.set(clock.now() + timedelta(days=3, minutes=1))  # past the deadline, not swept yet
    assert not answer("2")
    assert chat.count(Ballot) == 1
