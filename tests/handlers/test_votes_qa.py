"""议事 on odd words: what villagers type while a vote is open never breaks the post."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import Ballot, Inbound
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
