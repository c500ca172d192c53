"""Who is who and which chat is which group: read on every message, changed only by a grid
sync or a /bind, so kept in memory for a short while instead of queried each time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlmodel import Session

from classifier import places
from storage import people, records, teams
from storage.models import Person

TTL_SECONDS = 30.0  # another instance's /bind or grid reload is seen within this


@dataclass(frozen=True)
class GroupInfo:
    id: int
    village_id: int
    name: str


@dataclass(frozen=True)
class TeamInfo:
    """A villagers' group (组) as routing reads it."""

    id: int
    village_id: int
    name: str
    words: tuple[str, ...]  # its name and aliases, as a text may write them
    numbers: frozenset[str]  # the 组 those words name as classifier.places reads them (三)
    members: tuple[int, ...]  # person ids, file order
    # Its words classifier.places does not read as a 组 (东头, 河西片): found as written.
    plain: tuple[str, ...] = ()

    def named_in(self, text: str, named: set[str]) -> bool:
        """Whether a text names this 组: a 组 read from the text (`named`: 3组 = 三组 =
        第三村民小组 = 三社) that its words name too, or one of its other words. Words read as
        a 组 are never looked for as written: 一组 is written inside 十一组."""
        return bool(self.numbers & named) or any(w in text for w in self.plain)


def team_info(row: teams.TeamRow) -> TeamInfo:
    words = (row.name, *row.aliases)
    read = {w: places.groups(places.places(w)) for w in words}
    numbers = frozenset(n for found in read.values() for n in found)
    plain = tuple(w for w, found in read.items() if not found)
    return TeamInfo(row.id, row.village_id, row.name, words, numbers, row.members, plain)


@dataclass
class GridCache:
    """Who is who (people by platform account and by id, their accounts, owner pools) and
    which chat is which group, read from storage.people and kept for `ttl` seconds."""

    ttl: float = TTL_SECONDS
    _people: dict[str, Person | None] = field(default_factory=dict)
    _groups: dict[str, GroupInfo | None] = field(default_factory=dict)
    _seen: dict[str, int] = field(default_factory=dict)
    _by_id: dict[int, Person | None] = field(default_factory=dict)
    _keys: dict[int, list[str]] = field(default_factory=dict)
    _grid_keys: set[str] | None = None
    _pools: dict[tuple[int, int | None], list[Person]] = field(default_factory=dict)
    _teams: dict[int, list[TeamInfo]] = field(default_factory=dict)
    _residence: dict[str, int | None] = field(default_factory=dict)
    _loaded: float = 0.0

    def _fresh(self) -> None:
        now = time.monotonic()
        if now - self._loaded > self.ttl:
            self.clear()
            self._loaded = now

    def clear(self) -> None:
        self._people.clear()
        self._groups.clear()
        self._seen.clear()
        self._by_id.clear()
        self._keys.clear()
        self._grid_keys = None
        self._pools.clear()
        self._teams.clear()
        self._residence.clear()

    def person(self, session: Session, key: str) -> Person | None:
        """The active grid person behind a platform id (a detached copy: read, never change)."""
        self._fresh()
        if key not in self._people:
            # Most posters are villagers, in no grid: one query for every grid person's ids
            # answers for all of them, instead of one query per villager.
            if self._grid_keys is None:
                self._grid_keys = people.grid_keys(session=session)
            if key not in self._grid_keys:
                self._people[key] = None
                return None
            person = people.person_by_key(session=session, key=key)
            if person is not None:
                session.expunge(person)
            self._people[key] = person
        return self._people[key]

    def group(self, session: Session, chat_key: str) -> GroupInfo | None:
        self._fresh()
        if chat_key not in self._groups:
            row = people.chat_group(session=session, chat_key=chat_key, active_only=True)
            self._groups[chat_key] = (
                GroupInfo(row.id or 0, row.village_id, row.name) if row is not None else None
            )
        return self._groups[chat_key]

    def seen_changed(self, sender: str, group_id: int) -> bool:
        """True when the sender's last group is not known to be this one (write it then)."""
        self._fresh()
        if self._seen.get(sender) == group_id:
            return False
        self._seen[sender] = group_id
        return True

    def person_by_id(self, session: Session, person_id: int) -> Person | None:
        """Any person, active or not (an issue's owner may have left the grid); detached."""
        self._fresh()
        if person_id not in self._by_id:
            person = records.by_id(session, Person, person_id)
            self._by_id[person_id] = _copy(person) if person is not None else None
        return self._by_id[person_id]

    def keys(self, session: Session, person_id: int) -> list[str]:
        """A person's platform ids, in the order they were added (the first is their default)."""
        self._fresh()
        if person_id not in self._keys:
            self._keys[person_id] = people.person_keys(session=session, person_id=person_id)
        return self._keys[person_id]

    def pool(self, session: Session, *, village_id: int, group_id: int | None) -> list[Person]:
        """Who may own a new matter of this group (see handlers.routing.choose_owner); detached."""
        self._fresh()
        key = (village_id, group_id)
        if key not in self._pools:
            found = _pool(session, village_id=village_id, group_id=group_id)
            self._pools[key] = [_copy(p) for p in found]
        return self._pools[key]

    def teams(self, session: Session, village_id: int) -> list[TeamInfo]:
        """The village's 组, file order."""
        self._fresh()
        if village_id not in self._teams:
            rows = teams.village_teams(session=session, village_id=village_id)
            self._teams[village_id] = [team_info(r) for r in rows]
        return self._teams[village_id]

    def residence(self, session: Session, sender: str) -> int | None:
        """The 组 (team id) a villager said they live in, or a cadre set."""
        self._fresh()
        if sender not in self._residence:
            self._residence[sender] = teams.residence(session=session, sender=sender)
        return self._residence[sender]

    def moved(self, sender: str, team_id: int) -> None:
        """A residence just set here: known at once (other instances within `ttl`)."""
        self._residence[sender] = team_id


def _copy(person: Person) -> Person:
    """A copy outside any session: the session's own object may be changed by its caller."""
    return Person.model_validate(person.model_dump())


def _pool(session: Session, *, village_id: int, group_id: int | None) -> list[Person]:
    """The group's owner pool in file order; for a private report, or a group with no
    members listed, the village's people who take some kind and belong to no 组 (a 组's
    people take its own matters, handlers.routing.route)."""
    if group_id is not None:
        rows = people.group_pool(session=session, group_id=group_id)
        if rows:
            return rows
    in_teams = teams.members_in_teams(session=session).get(village_id, set())
    village = people.village_people(session=session, village_id=village_id)
    return [p for p in village if p.kinds and p.id not in in_teams]


# The name it had; handlers/deps.py still uses it (bot/wechat.py and scheduler/ladder.py had
# classes of the same name).
Directory = GridCache
