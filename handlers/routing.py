"""理事定事: who owns a new matter and by when."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from handlers.directory import GridCache
from storage import issues, people
from storage.grid import Grid
from storage.models import Kind, Person


def time_limit(grid: Grid, kind: str) -> timedelta:
    if kind in grid.deadlines:
        return grid.deadlines[kind]
    return min(grid.deadlines.values())  # 待分类: the shortest, so someone looks soon


def due_for(grid: Grid, kind: str, start: datetime) -> datetime:
    return start + time_limit(grid, kind)


def choose_owner(
    session: Session,
    *,
    village_id: int,
    group_id: int | None,
    kind: str,
    directory: GridCache,
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
        load = issues.open_counts(
            session=session, person_ids=[p.id for p in takers if p.id is not None]
        )
        return min(takers, key=lambda p: load.get(p.id or 0, 0))  # min keeps file order on ties
    return people.secretary(session=session, village_id=village_id) or (
        members[0] if members else None
    )
