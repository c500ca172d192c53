"""理事定事: who owns a new matter and by when."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.grid import Grid
from storage.models import ACTIVE_STATUSES, GroupMember, Issue, Kind, Person, Role


def time_limit(grid: Grid, kind: str) -> timedelta:
    if kind in grid.deadlines:
        return grid.deadlines[kind]
    return min(grid.deadlines.values())  # 待分类: the shortest, so someone looks soon


def due_for(grid: Grid, kind: str, start: datetime) -> datetime:
    return start + time_limit(grid, kind)


def _open_count() -> Any:
    """Open issues of the person in the row (uses ix_issue_owner_status)."""
    return (
        select(func.count())
        .where(col(Issue.owner_id) == col(Person.id), col(Issue.status).in_(ACTIVE_STATUSES))
        .scalar_subquery()
    )


def pool_with_load(
    session: Session, *, village_id: int, group_id: int | None
) -> list[tuple[Person, int]]:
    """The pool with each member's open issues, in one query."""
    if group_id is not None:
        rows = session.exec(
            select(Person, _open_count())
            .join(GroupMember, col(GroupMember.person_id) == col(Person.id))
            .where(GroupMember.group_id == group_id, Person.active)
            .order_by(col(GroupMember.position))
        ).all()
        if rows:
            return [(p, int(n)) for p, n in rows]
    rows = session.exec(
        select(Person, _open_count())
        .where(Person.village_id == village_id, Person.active, Person.kinds != "")
        .order_by(col(Person.position))
    ).all()
    return [(p, int(n)) for p, n in rows]


def pool(session: Session, *, village_id: int, group_id: int | None) -> list[Person]:
    """The group's owner pool in file order; for a private report, the village's people
    who take some kind."""
    if group_id is not None:
        rows = session.exec(
            select(Person)
            .join(GroupMember, col(GroupMember.person_id) == col(Person.id))
            .where(GroupMember.group_id == group_id, Person.active)
            .order_by(col(GroupMember.position))
        ).all()
        if rows:
            return list(rows)
    return [
        p
        for p in session.exec(
            select(Person)
            .where(Person.village_id == village_id, Person.active)
            .order_by(col(Person.position))
        ).all()
        if p.kinds
    ]


def secretary(session: Session, village_id: int) -> Person | None:
    return session.exec(
        select(Person)
        .where(Person.village_id == village_id, Person.active, Person.role == Role.SECRETARY)
        .order_by(col(Person.position))
    ).first()


def town_leaders(session: Session) -> list[Person]:
    return list(
        session.exec(
            select(Person)
            .where(Person.role == Role.TOWN_LEADER, Person.active)
            .order_by(col(Person.position))
        ).all()
    )


def open_counts(session: Session, person_ids: list[int]) -> dict[int, int]:
    rows = session.exec(
        select(Issue.owner_id, func.count())
        .where(col(Issue.owner_id).in_(person_ids), col(Issue.status).in_(ACTIVE_STATUSES))
        .group_by(col(Issue.owner_id))
    ).all()
    return {owner: n for owner, n in rows if owner is not None}


def choose_owner(
    session: Session, *, village_id: int, group_id: int | None, kind: str
) -> Person | None:
    """定人: in the pool, who takes this kind and has the fewest open issues (ties: file order);
    for 待分类 the pool's first member; if nobody takes the kind, the village 书记."""
    members = pool_with_load(session, village_id=village_id, group_id=group_id)
    if kind == Kind.UNSORTED and members:
        return members[0][0]
    takers = [(p, n) for p, n in members if kind in p.kind_list()]
    if takers:
        return min(takers, key=lambda pn: pn[1])[0]  # min keeps file order on ties
    return secretary(session, village_id) or (members[0][0] if members else None)
