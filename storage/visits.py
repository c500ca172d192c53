"""回访: the owners' visits after a 户里事 or 邻里事 was closed (every statement about them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col
from sqlmodel import select as select_models

from storage.models import Counter, Event, Issue, Visit

CURSOR = "visits:scanned"  # Counter row: up to when (epoch seconds) closings were planned


def scanned_until(*, session: Session) -> int | None:
    """Where the last planning stopped (epoch seconds), or None the first time. The row is
    made if missing and locked: one instance plans at a time, the others wait for it."""
    insert = (
        postgresql.insert(Counter)
        if session.get_bind().dialect.name == "postgresql"
        else sqlite.insert(Counter)
    )
    session.execute(
        insert.values(name=CURSOR, value=0).on_conflict_do_nothing(index_elements=["name"])
    )
    value = session.execute(
        select(col(Counter.value)).where(col(Counter.name) == CURSOR).with_for_update()
    ).scalar_one()
    return int(value) or None


def set_scanned(*, session: Session, until: int) -> None:
    session.execute(update(Counter).where(col(Counter.name) == CURSOR).values(value=until))


def closings(*, session: Session, since: datetime, kinds: Sequence[str]) -> list[Any]:
    """The "closed" and "rated" events since `since` of issues of these kinds, oldest first:
    (event id, issue id, event kind, detail, at, issue kind, status)."""
    return list(
        session.execute(
            select(
                col(Event.id),
                col(Event.issue_id),
                col(Event.kind),
                col(Event.detail),
                col(Event.at),
                col(Issue.kind).label("issue_kind"),
            )
            .join(Issue, col(Issue.id) == col(Event.issue_id))
            .where(
                col(Event.at) >= since,
                col(Event.kind).in_(["closed", "rated"]),
                col(Issue.kind).in_(list(kinds)),
            )
            .order_by(col(Event.at), col(Event.id))
        ).all()
    )


def add_visit(
    *,
    session: Session,
    issue_id: int,
    source_event: int,
    reason: str,
    due_at: datetime,
    created_at: datetime,
) -> None:
    """A visit planned from an event; planned once whatever the number of sweeps that see it."""
    values = {
        "issue_id": issue_id,
        "source_event": source_event,
        "reason": reason,
        "due_at": due_at,
        "created_at": created_at,
    }
    insert = (
        postgresql.insert(Visit)
        if session.get_bind().dialect.name == "postgresql"
        else sqlite.insert(Visit)
    )
    session.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["source_event"]))


def planned_from(*, session: Session, source_event: int) -> Visit | None:
    return session.exec(select_models(Visit).where(Visit.source_event == source_event)).first()


def pending(*, session: Session, issue_id: int) -> Visit | None:
    """The issue's visit not yet done, if any."""
    return session.exec(
        select_models(Visit)
        .where(Visit.issue_id == issue_id, col(Visit.done_at).is_(None))
        .order_by(col(Visit.due_at))
    ).first()


def done_since(*, session: Session, issue_id: int, since: datetime) -> bool:
    return (
        session.exec(
            select_models(Visit).where(Visit.issue_id == issue_id, col(Visit.done_at) >= since)
        ).first()
        is not None
    )


def of_issue(*, session: Session, issue_id: int) -> list[Visit]:
    return list(
        session.exec(select_models(Visit).where(Visit.issue_id == issue_id).order_by(col(Visit.id)))
    )


def due(*, session: Session, now: datetime) -> list[tuple[Visit, Issue]]:
    """Visits due and not done, with their issue, soonest first."""
    rows = session.execute(
        select(Visit, Issue)
        .join(Issue, col(Issue.id) == col(Visit.issue_id))
        .where(col(Visit.done_at).is_(None), col(Visit.due_at) <= now)
        .order_by(col(Visit.due_at))
    ).all()
    return [(r[0], r[1]) for r in rows]


def next_due(*, session: Session, after: datetime) -> datetime | None:
    return session.execute(
        select(func.min(col(Visit.due_at))).where(
            col(Visit.done_at).is_(None), col(Visit.due_at) > after
        )
    ).scalar()


def done_between(
    *, session: Session, start: datetime, end: datetime, village_id: int | None = None
) -> list[tuple[Visit, Issue]]:
    query = (
        select(Visit, Issue)
        .join(Issue, col(Issue.id) == col(Visit.issue_id))
        .where(col(Visit.done_at) >= start, col(Visit.done_at) < end)
        .order_by(col(Visit.done_at))
    )
    if village_id is not None:
        query = query.where(col(Issue.village_id) == village_id)
    return [(r[0], r[1]) for r in session.execute(query).all()]


def counts(*, session: Session, now: datetime, village_id: int | None = None) -> dict[str, int]:
    """回访 at a glance (the admin): due and not done, planned for later, done."""
    due_now = col(Visit.done_at).is_(None) & (col(Visit.due_at) <= now)
    later = col(Visit.done_at).is_(None) & (col(Visit.due_at) > now)
    query = select(
        func.count().filter(due_now),
        func.count().filter(later),
        func.count().filter(col(Visit.done_at).is_not(None)),
    ).select_from(Visit)
    if village_id is not None:
        query = query.join(Issue, col(Issue.id) == col(Visit.issue_id)).where(
            col(Issue.village_id) == village_id
        )
    a, b, c = session.execute(query).one()
    return {"due": int(a or 0), "later": int(b or 0), "done": int(c or 0)}


def by_issue(*, session: Session, issue_ids: Sequence[int]) -> dict[int, list[Visit]]:
    """The visits of these issues, by issue id (the ledger's column)."""
    if not issue_ids:
        return {}
    out: dict[int, list[Visit]] = {}
    for visit in session.exec(
        select_models(Visit).where(col(Visit.issue_id).in_(list(issue_ids))).order_by(col(Visit.id))
    ):
        out.setdefault(visit.issue_id, []).append(visit)
    return out


def last_closing(*, session: Session, issue_id: int) -> int | None:
    """The id of the issue's latest "closed" event (what its visit follows)."""
    return session.execute(
        select(func.max(col(Event.id))).where(
            col(Event.issue_id) == issue_id, col(Event.kind) == "closed"
        )
    ).scalar()


def move_earlier(*, session: Session, visit: Visit, due_at: datetime, reason: str) -> None:
    """Bring a visit forward; the owner is told again when it falls due."""
    visit.due_at = due_at
    visit.reason = reason
    visit.reminded_at = None
    session.add(visit)


def unreminded_due(*, session: Session, now: datetime) -> list[tuple[Visit, Issue]]:
    """Visits due, not done, whose owner has not been told yet; locked (one instance tells)."""
    rows = session.execute(
        select(Visit, Issue)
        .join(Issue, col(Issue.id) == col(Visit.issue_id))
        .where(
            col(Visit.done_at).is_(None),
            col(Visit.reminded_at).is_(None),
            col(Visit.due_at) <= now,
        )
        .order_by(col(Visit.due_at))
        .with_for_update(skip_locked=True, of=Visit)
    ).all()
    return [(r[0], r[1]) for r in rows]


def mark_reminded(*, session: Session, visit: Visit, at: datetime) -> None:
    visit.reminded_at = at
    session.add(visit)


def mark_done(*, session: Session, visit: Visit, at: datetime, by: str, note: str) -> None:
    visit.done_at, visit.done_by, visit.note = at, by, note
    session.add(visit)


def all_visits(*, session: Session) -> list[Visit]:
    """Every visit (the ledger's 回访 column: one per closed 户里事 or 邻里事 at most)."""
    return list(session.exec(select_models(Visit).order_by(col(Visit.id))))
