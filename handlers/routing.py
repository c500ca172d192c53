"""理事定事: who owns a new matter and by when."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from handlers.directory import Directory
from storage.grid import Grid
from storage.models import Issue, Kind, Person, Role, is_active


def time_limit(grid: Grid, kind: str) -> timedelta:
    if kind in grid.deadlines:
        return grid.deadlines[kind]
    return min(grid.deadlines.values())  # 待分类: the shortest, so someone looks soon


def due_for(grid: Grid, kind: str, start: datetime) -> datetime:
    return start + time_limit(grid, kind)


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


@cache
def _open_counts_of(n: int) -> Any:
    """Open issues per owner for `n` people (uses ix_issue_owner_status). One statement per
    pool size, with plain parameters: an expanding IN list is rebuilt at every execution."""
    ids: list[Any] = [bindparam(f"id{i}") for i in range(n)]
    return (
        select(col(Issue.owner_id), func.count())
        .where(col(Issue.owner_id).in_(ids), is_active(col(Issue.status)))
        .group_by(col(Issue.owner_id))
    )


def open_counts(session: Session, person_ids: list[int]) -> dict[int, int]:
    """Open issues per person."""
    if not person_ids:
        return {}
    params = {f"id{i}": person_id for i, person_id in enumerate(person_ids)}
    rows = session.connection().execute(_open_counts_of(len(person_ids)), params).all()
    return {owner: n for owner, n in rows if owner is not None}


def choose_owner(
    session: Session,
    *,
    village_id: int,
    group_id: int | None,
    kind: str,
    directory: Directory,
) -> Person | None:
    """定人: in the pool (the group's members in file order; for a private report, or a group
    with none listed, the village's people who take some kind), who takes this kind and has the
    fewest open issues (ties: file order); for 待分类 the pool's first member; if nobody takes
    the kind, the village 书记."""
    members = directory.pool(session, village_id=village_id, group_id=group_id)
    if kind == Kind.UNSORTED and members:
        return members[0]
    takers = [p for p in members if kind in p.kind_list()]
    if len(takers) == 1:  # a 组 with one grid member: nobody to compare with
        return takers[0]
    if takers:
        load = open_counts(session, [p.id for p in takers if p.id is not None])
        return min(takers, key=lambda p: load.get(p.id or 0, 0))  # min keeps file order on ties
    return secretary(session, village_id) or (members[0] if members else None)
