"""理事定事: who owns a new matter, at which rung, and by when.

The ladder starts as low as it can (小事不出组): a matter of a villagers' group (组) goes to
that 组's people who take its kind; else to the village pool (村), as in a village without 组.
A matter belongs to a 组 when its text names one (by name or alias, 3组 = 三组 = 三社) or its
reporter is known to live there (handlers.teams: "我是三组的", or a cadre set it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from classifier import places
from handlers.directory import GridCache, TeamInfo
from storage import issues, people
from storage.grid import Grid
from storage.models import Kind, Level, Person, Role


def time_limit(grid: Grid, kind: str) -> timedelta:
    if kind in grid.deadlines:
        return grid.deadlines[kind]
    return min(grid.deadlines.values())  # 待分类: the shortest, so someone looks soon


def due_for(grid: Grid, kind: str, start: datetime) -> datetime:
    """定时限: the kind's time limit from `start`; 当天 is before that day's quiet hours."""
    return grid.due(kind, start)


@dataclass(frozen=True)
class Route:
    owner: Person | None
    level: str  # the rung it starts at: Level.GROUP (组), VILLAGE (村)
    team: TeamInfo | None  # the 组 it belongs to, if any


def team_of(
    session: Session, *, village_id: int, text: str, reporter: str, directory: GridCache
) -> TeamInfo | None:
    """The 组 a matter belongs to: the first the text names (the reporter's own when it names
    several), else the reporter's."""
    teams = directory.teams(session, village_id)
    if not teams:
        return None
    home = directory.residence(session, reporter) if reporter else None
    named = places.groups(places.places(text)) if text else set()
    said = [t for t in teams if t.named_in(text, named)]
    if said:
        return next((t for t in said if t.id == home), said[0])
    return next((t for t in teams if t.id == home), None)


def route(
    session: Session,
    *,
    village_id: int,
    group_id: int | None,
    kind: str,
    directory: GridCache,
    text: str = "",
    reporter: str = "",
) -> Route:
    """定人: the 组's people who take this kind first (fewest open matters, ties: file order),
    at 组 level; else `choose_owner` over the village pool, at 村 level in a village with 组
    (group level as before in one without, unless the 书记 takes it)."""
    team = team_of(
        session, village_id=village_id, text=text, reporter=reporter, directory=directory
    )
    if team is not None and kind != Kind.UNSORTED:
        members = [directory.person_by_id(session, pid) for pid in team.members]
        takers = [p for p in members if p is not None and p.active and kind in p.kind_list()]
        if takers:
            return Route(_least_loaded(session, takers), Level.GROUP, team)
    owner = choose_owner(
        session, village_id=village_id, group_id=group_id, kind=kind, directory=directory
    )
    village_rung = owner is not None and (
        owner.role == Role.SECRETARY or bool(directory.teams(session, village_id))
    )
    return Route(owner, Level.VILLAGE if village_rung else Level.GROUP, team)


def _least_loaded(session: Session, takers: list[Person]) -> Person:
    if len(takers) == 1:  # a 组 with one grid member: nobody to compare with
        return takers[0]
    load = issues.open_counts(
        session=session, person_ids=[p.id for p in takers if p.id is not None]
    )
    return min(takers, key=lambda p: load.get(p.id or 0, 0))  # min keeps file order on ties


def choose_owner(
    session: Session,
    *,
    village_id: int,
    group_id: int | None,
    kind: str,
    directory: GridCache,
) -> Person | None:
    """定人 in the village pool: in the pool (the group's members in file order; for a private
    report, or a group with none listed, the village's people who take some kind), who takes
    this kind and has the fewest open issues (ties: file order); for 待分类 the pool's first
    member; if nobody takes the kind, the village 书记."""
    members = directory.pool(session, village_id=village_id, group_id=group_id)
    if kind == Kind.UNSORTED and members:
        return members[0]
    takers = [p for p in members if kind in p.kind_list()]
    if takers:
        return _least_loaded(session, takers)
    return people.secretary(session=session, village_id=village_id) or (
        members[0] if members else None
    )
