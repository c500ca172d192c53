"""The scheduler's state, all of it in the database (so a restart loses and repeats nothing, and
instances sharing one PostgreSQL split the work): when each open issue is looked at next
(IssueCheck), what the scheduler owes whom (Reminder rows: held, then queued into one outbox
message per person), and which periodic job ran for which period (JobRun).

A sweep touches thousands of these rows: its writes go through storage.bulk, and what it reads
comes back as plain rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col
from sqlmodel import select as select_models

from storage.bulk import among, insert_rows, update_rows
from storage.models import JobRun

CHECK = SQLModel.metadata.tables["issuecheck"]
REMINDER = SQLModel.metadata.tables["reminder"]
PERSON = SQLModel.metadata.tables["person"]
_REMINDER_INSERT = insert(REMINDER)

# --- checks: when an open issue is looked at next ------------------------------------------


def due_checks(*, session: Session, now: datetime, limit: int) -> list[int]:
    """Claim up to `limit` issues whose next check has come, soonest first: their ids. Row
    locks with SKIP LOCKED: a second instance takes other rows, and a handler changing one of
    these issues waits for this transaction."""
    return list(
        session.execute(
            select(CHECK.c.issue_id)
            .where(CHECK.c.next_check_at <= now)
            .order_by(CHECK.c.next_check_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )


def drop_checks(*, session: Session, issue_ids: Sequence[int]) -> None:
    """These issues are no longer chased."""
    if issue_ids:
        session.execute(delete(CHECK).where(among(CHECK.c.issue_id, issue_ids, session)))


def move_checks(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Set each issue's next check: {"issue_id", "next_check_at"} each."""
    update_rows(session, CHECK, rows, fields=("next_check_at",), key="issue_id")


def next_check_after(*, session: Session, after: datetime) -> datetime | None:
    """The soonest check still to come after `after`."""
    return session.execute(
        select(func.min(CHECK.c.next_check_at)).where(CHECK.c.next_check_at > after)
    ).scalar()


# --- reminders: what the scheduler owes whom -----------------------------------------------


def reminder_row(
    *,
    key: str,
    person_id: int | None,
    stage: str,
    due_at: datetime,
    created_at: datetime,
    text: str = "",
    issue_id: int | None = None,
    image: str | None = None,
    status: str = "held",
) -> dict[str, Any]:
    """A Reminder row, as every writer of them builds it. `key` is unique: the same thing is
    never owed twice, across restarts and instances."""
    return {
        "key": key,
        "issue_id": issue_id,
        "person_id": person_id,
        "stage": stage,
        "due_at": due_at,
        "created_at": created_at,
        "text": text,
        "image": image,
        "status": status,
        "outbox_id": None,
    }


def owe(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write a few `reminder_row`s (a triage card, a day's to-do lists, a week's digests);
    IntegrityError when one of them was owed before."""
    if rows:
        session.connection().execute(_REMINDER_INSERT, list(rows))


def owe_many(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write a sweep's `reminder_row`s, thousands at a time (storage.bulk)."""
    insert_rows(session, REMINDER, rows)


def held(*, session: Session, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` rows waiting to be sent ("held"), oldest first, locked (SKIP LOCKED: a
    second instance merges other rows)."""
    return [
        dict(r._mapping)
        for r in session.execute(
            select(
                REMINDER.c.id,
                REMINDER.c.key,
                REMINDER.c.person_id,
                REMINDER.c.issue_id,
                REMINDER.c.stage,
                REMINDER.c.text,
                REMINDER.c.image,
                REMINDER.c.due_at,
                REMINDER.c.created_at,
            )
            .where(REMINDER.c.status == "held")
            .order_by(REMINDER.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
    ]


def mark_owed(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write back the status and outbox id of held rows (queued, skipped)."""
    update_rows(session, REMINDER, rows, fields=("status", "outbox_id"))


def owed_keys(*, session: Session, issue_ids: Sequence[int]) -> list[str]:
    """The keys of everything ever owed about these issues."""
    return list(
        session.execute(
            select(REMINDER.c.key).where(among(REMINDER.c.issue_id, issue_ids, session))
        )
        .scalars()
        .all()
    )


def cards_since(*, session: Session, stage: str, since: datetime) -> list[tuple[str, int | None]]:
    """(key, village of its person) of every row of this stage written since then."""
    return [
        (key, village_id)
        for key, village_id in session.execute(
            select(REMINDER.c.key, PERSON.c.village_id)
            .join(PERSON, PERSON.c.id == REMINDER.c.person_id)
            .where(REMINDER.c.stage == stage, REMINDER.c.created_at >= since)
        ).all()
    ]


def any_held(*, session: Session) -> bool:
    """Whether anything waits to be sent (the quiet hours' end is then a moment to sweep)."""
    return (
        session.execute(select(REMINDER.c.id).where(REMINDER.c.status == "held").limit(1)).first()
        is not None
    )


def oldest_held(*, session: Session, stage: str) -> datetime | None:
    """When the oldest row of this stage still held was written."""
    return session.execute(
        select(func.min(REMINDER.c.created_at)).where(
            REMINDER.c.status == "held", REMINDER.c.stage == stage
        )
    ).scalar()


# --- periodic jobs: each period's run claimed once -------------------------------------------


def started_at(*, session: Session, now: datetime) -> datetime:
    """When the scheduler first ran on this database, recorded now (and committed) if it never
    did."""
    query = select_models(JobRun).where(JobRun.job == "start")
    row = session.exec(query).first()
    if row is not None:
        return row.at
    session.add(JobRun(job="start", period="-", at=now))
    try:
        session.commit()
        return now
    except IntegrityError:  # another instance recorded it first
        session.rollback()
        return session.exec(query).one().at


def job_done(*, session: Session, job: str, period: str) -> bool:
    return (
        session.exec(
            select_models(JobRun.id).where(JobRun.job == job, JobRun.period == period)
        ).first()
        is not None
    )


def claim_job(*, session: Session, job: str, period: str, at: datetime) -> None:
    """Claim a job's run for a period in the session's transaction: IntegrityError when
    another instance claimed it (the run must then be skipped)."""
    session.add(JobRun(job=job, period=period, at=at))
    session.flush()


def last_job_runs(*, session: Session) -> list[tuple[str, str, datetime]]:
    """(job, period, time) of each scheduler job's latest run."""
    latest = (
        select(col(JobRun.job), func.max(col(JobRun.at)).label("at"))
        .group_by(col(JobRun.job))
        .subquery()
    )
    rows = session.execute(
        select(col(JobRun.job), col(JobRun.period), col(JobRun.at))
        .join(latest, and_(latest.c.job == col(JobRun.job), latest.c.at == col(JobRun.at)))
        .order_by(col(JobRun.job))
    ).all()
    return [(job, period, at) for job, period, at in rows]


__all__ = [
    "any_held",
    "cards_since",
    "claim_job",
    "drop_checks",
    "due_checks",
    "held",
    "job_done",
    "last_job_runs",
    "mark_owed",
    "move_checks",
    "next_check_after",
    "oldest_held",
    "owe",
    "owe_many",
    "owed_keys",
    "reminder_row",
    "started_at",
]
