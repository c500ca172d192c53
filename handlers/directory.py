"""Who is who and which chat is which group: read on every message, changed only by a grid
sync or a /bind, so kept in memory for a short while instead of queried each time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlmodel import Session, select

from storage.models import ChatGroup, GroupChat, Person, PersonId

TTL_SECONDS = 30.0  # another instance's /bind or grid reload is seen within this


@dataclass(frozen=True)
class GroupInfo:
    id: int
    village_id: int
    name: str


@dataclass
class Directory:
    ttl: float = TTL_SECONDS
    _people: dict[str, Person | None] = field(default_factory=dict)
    _groups: dict[str, GroupInfo | None] = field(default_factory=dict)
    _seen: dict[str, int] = field(default_factory=dict)
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

    def person(self, session: Session, key: str) -> Person | None:
        """The active grid person behind a platform id (a detached copy: read, never change)."""
        self._fresh()
        if key not in self._people:
            person = session.exec(
                select(Person).join(PersonId).where(PersonId.key == key, Person.active)
            ).first()
            if person is not None:
                session.expunge(person)
            self._people[key] = person
        return self._people[key]

    def group(self, session: Session, chat_key: str) -> GroupInfo | None:
        self._fresh()
        if chat_key not in self._groups:
            row = session.exec(
                select(ChatGroup)
                .join(GroupChat)
                .where(GroupChat.chat_key == chat_key, GroupChat.active, ChatGroup.active)
            ).first()
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
