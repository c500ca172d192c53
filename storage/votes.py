"""议事: votes, their ballots and their Telegram polls (every statement about them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col
from sqlmodel import select as select_models

from storage.models import Ballot, ChatGroup, GroupChat, Issue, Seen, Vote, VotePoll


def add_vote(
    *,
    session: Session,
    issue_id: int,
    group_id: int,
    question: str,
    choices: Sequence[str],
    opened_by: str,
    opened_at: datetime,
    closes_at: datetime,
) -> Vote:
    vote = Vote(
        issue_id=issue_id,
        group_id=group_id,
        question=question,
        choices=json.dumps(list(choices), ensure_ascii=False),
        opened_by=opened_by,
        opened_at=opened_at,
        closes_at=closes_at,
    )
    session.add(vote)
    session.flush()
    return vote


def choices_of(vote: Vote) -> list[str]:
    return list(json.loads(vote.choices))


def get_vote(*, session: Session, vote_id: int) -> Vote | None:
    return session.get(Vote, vote_id)


def open_vote_of_group(*, session: Session, group_id: int) -> Vote | None:
    return session.exec(
        select_models(Vote).where(Vote.group_id == group_id, col(Vote.closed_at).is_(None))
    ).first()


def issue_number(*, session: Session, vote: Vote) -> int:
    return int(
        session.execute(
            select(col(Issue.number)).where(col(Issue.id) == vote.issue_id)
        ).scalar_one()
    )


def open_votes(*, session: Session) -> list[tuple[int, int, str, datetime]]:
    """Every open vote: (group id, vote id, its choices as JSON, its deadline). Few at a time:
    intake keeps them in memory."""
    rows = session.execute(
        select(col(Vote.group_id), col(Vote.id), col(Vote.choices), col(Vote.closes_at)).where(
            col(Vote.closed_at).is_(None)
        )
    ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def is_open(*, session: Session, vote_id: int) -> bool:
    return (
        session.execute(
            select(col(Vote.id)).where(col(Vote.id) == vote_id, col(Vote.closed_at).is_(None))
        ).first()
        is not None
    )


def votes_of_issue(*, session: Session, issue_id: int) -> list[Vote]:
    return list(
        session.exec(select_models(Vote).where(Vote.issue_id == issue_id).order_by(col(Vote.id)))
    )


def due_to_close(*, session: Session, now: datetime) -> list[Vote]:
    """Open votes whose deadline has come, locked (a second instance skips them)."""
    return list(
        session.exec(
            select_models(Vote)
            .where(col(Vote.closed_at).is_(None), col(Vote.closes_at) <= now)
            .order_by(col(Vote.closes_at))
            .with_for_update(skip_locked=True)
        )
    )


def next_deadline(*, session: Session, after: datetime) -> datetime | None:
    return session.execute(
        select(func.min(col(Vote.closes_at))).where(
            col(Vote.closed_at).is_(None), col(Vote.closes_at) > after
        )
    ).scalar()


def cast(
    *, session: Session, vote_id: int, voter: str, voter_name: str, choice: int, at: datetime
) -> None:
    """One vote per person: a second ballot replaces the first (the last one counts)."""
    values = {
        "vote_id": vote_id,
        "voter": voter,
        "voter_name": voter_name,
        "choice": choice,
        "at": at,
    }
    insert = (
        postgresql.insert(Ballot)
        if session.get_bind().dialect.name == "postgresql"
        else sqlite.insert(Ballot)
    )
    stmt = insert.values(**values).on_conflict_do_update(
        index_elements=["vote_id", "voter"],
        set_={"choice": choice, "voter_name": voter_name, "at": at},
    )
    session.execute(stmt)


def withdraw_ballot(*, session: Session, vote_id: int, voter: str) -> None:
    """A Telegram poll answer taken back."""
    session.execute(
        delete(Ballot).where(col(Ballot.vote_id) == vote_id, col(Ballot.voter) == voter)
    )


def counts(*, session: Session, vote_id: int, choices: int) -> list[int]:
    """How many chose each choice, in the choices' order."""
    found: dict[int, int] = dict(
        session.execute(  # type: ignore[arg-type]
            select(col(Ballot.choice), func.count())
            .where(col(Ballot.vote_id) == vote_id)
            .group_by(col(Ballot.choice))
        ).all()
    )
    return [int(found.get(i, 0)) for i in range(choices)]


def known_members(*, session: Session, group_id: int) -> int:
    """The people the bot has seen posting in the group (the turnout's denominator)."""
    return int(
        session.execute(
            select(func.count()).select_from(Seen).where(col(Seen.group_id) == group_id)
        ).scalar_one()
    )


def close_vote(*, session: Session, vote: Vote, at: datetime, result: dict[str, Any]) -> None:
    vote.closed_at = at
    vote.result = json.dumps(result, ensure_ascii=False)
    session.add(vote)


def group_chats(*, session: Session, group_id: int) -> list[str]:
    """The active chats ("platform:id") of a group, where a vote is put."""
    return list(
        session.execute(
            select(col(GroupChat.chat_key))
            .where(col(GroupChat.group_id) == group_id, col(GroupChat.active).is_(True))
            .order_by(col(GroupChat.id))
        ).scalars()
    )


def group_name(*, session: Session, group_id: int) -> str:
    group = session.get(ChatGroup, group_id)
    return group.name if group else ""


# --- Telegram polls -----------------------------------------------------------------------------


def record_poll(
    *, session: Session, vote_id: int, chat: str, poll_id: str, message_id: str
) -> None:
    if session.get(VotePoll, poll_id) is None:
        session.add(VotePoll(poll_id=poll_id, vote_id=vote_id, chat=chat, message_id=message_id))


def poll(*, session: Session, poll_id: str) -> VotePoll | None:
    return session.get(VotePoll, poll_id)


def poll_of_vote(*, session: Session, vote_id: int, chat: str) -> VotePoll | None:
    return session.exec(
        select_models(VotePoll).where(VotePoll.vote_id == vote_id, VotePoll.chat == chat)
    ).first()


# --- the ledger and the digest -----------------------------------------------------------------


def closed_between(
    *, session: Session, village_id: int, start: datetime, end: datetime
) -> list[tuple[Vote, int]]:
    """The votes of a village's issues closed in [start, end), with their issue's number."""
    rows = session.execute(
        select(Vote, col(Issue.number))
        .join(Issue, col(Issue.id) == col(Vote.issue_id))
        .where(
            col(Issue.village_id) == village_id,
            col(Vote.closed_at) >= start,
            col(Vote.closed_at) < end,
        )
        .order_by(col(Vote.closed_at))
    ).all()
    return [(r[0], r[1]) for r in rows]


def results_by_issue(*, session: Session, issue_ids: Sequence[int]) -> dict[int, list[Vote]]:
    """The closed votes of these issues, by issue id (the ledger's column)."""
    if not issue_ids:
        return {}
    out: dict[int, list[Vote]] = {}
    for vote in session.exec(
        select_models(Vote)
        .where(col(Vote.issue_id).in_(list(issue_ids)), col(Vote.closed_at).is_not(None))
        .order_by(col(Vote.id))
    ):
        out.setdefault(vote.issue_id, []).append(vote)
    return out


def closed_votes(*, session: Session) -> list[Vote]:
    """Every closed vote (the ledger's 议事结果 column: a few per village and year)."""
    return list(
        session.exec(
            select_models(Vote).where(col(Vote.closed_at).is_not(None)).order_by(col(Vote.id))
        )
    )
