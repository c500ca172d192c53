"""Villagers' groups (组): a village's teams and their people, where villagers live, town
mediators, and the village owner pools the ladder's 组 → 村 rung reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import (
    ChatGroup,
    GroupMember,
    Person,
    Residence,
    Role,
    Team,
    TeamMember,
    Village,
)


@dataclass(frozen=True)
class TeamRow:
    id: int
    village_id: int
    name: str
    aliases: tuple[str, ...]
    members: tuple[int, ...]  # person ids (active ones), file order


def _words(packed: str) -> tuple[str, ...]:
    return tuple(w for w in packed.split("|") if w)


def village_teams(*, session: Session, village_id: int) -> list[TeamRow]:
    """A village's active 组 in file order, each with its active people."""
    teams = session.exec(
        select(Team).where(Team.village_id == village_id, Team.active).order_by(col(Team.position))
    ).all()
    return [_row(session, t) for t in teams]


def _row(session: Session, team: Team) -> TeamRow:
    members = session.exec(
        select(TeamMember.person_id)
        .join(Person, col(Person.id) == col(TeamMember.person_id))
        .where(TeamMember.team_id == team.id, Person.active)
        .order_by(col(TeamMember.position))
    ).all()
    return TeamRow(team.id or 0, team.village_id, team.name, _words(team.aliases), tuple(members))


def team(*, session: Session, team_id: int) -> TeamRow | None:
    found = session.get(Team, team_id)
    return _row(session, found) if found is not None and found.active else None


def residence(*, session: Session, sender: str) -> int | None:
    """The 组 (team id) a villager is known to live in."""
    row = session.get(Residence, sender)
    return row.team_id if row is not None else None


def set_residence(
    *, session: Session, sender: str, team_id: int, set_by: str, at: datetime
) -> None:
    """Remember (or change) the 组 a villager lives in."""
    row = session.get(Residence, sender)
    if row is None:
        row = Residence(sender=sender, team_id=team_id, set_by=set_by, at=at)
    row.team_id, row.set_by, row.at = team_id, set_by, at
    session.add(row)
    session.flush()


def members_in_teams(*, session: Session) -> dict[int, set[int]]:
    """Per village, the people who belong to one of its active 组."""
    rows = session.exec(
        select(Team.village_id, TeamMember.person_id)
        .join(TeamMember, col(TeamMember.team_id) == col(Team.id))
        .where(Team.active)
    ).all()
    out: dict[int, set[int]] = {}
    for village_id, person_id in rows:
        out.setdefault(village_id, set()).add(person_id)
    return out


def village_pools(*, session: Session) -> dict[int, list[int]]:
    """Per village, its owner pool: the members of its active groups' pools, in file order,
    each once (the rung above a 组: 村)."""
    rows = session.exec(
        select(ChatGroup.village_id, GroupMember.person_id)
        .join(GroupMember, col(GroupMember.group_id) == col(ChatGroup.id))
        .join(Person, col(Person.id) == col(GroupMember.person_id))
        .where(ChatGroup.active, Person.active)
        .order_by(col(ChatGroup.position), col(GroupMember.position))
    ).all()
    out: dict[int, list[int]] = {}
    for village_id, person_id in rows:
        pool = out.setdefault(village_id, [])
        if person_id not in pool:
            pool.append(person_id)
    return out


def mediators(*, session: Session, village_id: int, kind: str | None = None) -> list[Person]:
    """The town's mediators who serve this village (all villages when they list none) and,
    when `kind` is given, take that kind (or list no kinds); grid order."""
    village = session.get(Village, village_id)
    name = village.name if village is not None else ""
    found = session.exec(
        select(Person)
        .where(col(Person.village_id).is_(None), Person.active, Person.role == Role.MEDIATOR)
        .order_by(col(Person.position))
    ).all()
    return [
        p
        for p in found
        if (not p.serves or f"|{name}|" in p.serves)
        and (kind is None or not p.kinds or kind in p.kind_list())
    ]
