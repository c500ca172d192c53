"""The grid as the database holds it: villages, groups and their chats, people and their
platform accounts. Read by the directory cache on the per-post path (handlers.directory), by
routing, by the scheduler once per sweep, and by the admin's filter menus.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Row
from sqlmodel import Session, SQLModel, col, select

from storage.models import (
    ChatGroup,
    GroupChat,
    GroupMember,
    Person,
    PersonId,
    Role,
    Seen,
    Village,
)

# --- choices for the admin's filters ---------------------------------------------------------


def villages(*, session: Session, ids: tuple[int, ...] | None = None) -> list[Row[Any]]:
    """Active villages (id, name) in grid order; only `ids` when given. Light rows, not
    objects: the filter menus list every village, group and person on every page."""
    query = sa_select(col(Village.id), col(Village.name)).where(col(Village.active))
    if ids is not None:
        query = query.where(col(Village.id).in_(ids))
    return list(session.execute(query.order_by(col(Village.position))).all())


def groups(*, session: Session, village_ids: tuple[int, ...] | None = None) -> list[Row[Any]]:
    """Active groups (id, name, village_id)."""
    query = sa_select(col(ChatGroup.id), col(ChatGroup.name), col(ChatGroup.village_id))
    query = query.where(col(ChatGroup.active))
    if village_ids is not None:
        query = query.where(col(ChatGroup.village_id).in_(village_ids))
    return list(session.execute(query.order_by(col(ChatGroup.position))).all())


def people(*, session: Session, village_ids: tuple[int, ...] | None = None) -> list[Row[Any]]:
    """Active grid people (id, name, role, village_id, title: as the grid file writes it)."""
    query = sa_select(
        col(Person.id),
        col(Person.name),
        col(Person.role),
        col(Person.village_id),
        col(Person.title),
    )
    query = query.where(col(Person.active))
    if village_ids is not None:
        query = query.where(col(Person.village_id).in_(village_ids))
    return list(session.execute(query.order_by(col(Person.position))).all())


# --- villages --------------------------------------------------------------------------------


def all_villages(*, session: Session) -> list[Village]:
    """Every village, active or not."""
    return list(session.exec(select(Village)).all())


def active_villages(*, session: Session) -> list[Village]:
    """The active villages, in grid order."""
    return list(
        session.exec(select(Village).where(Village.active).order_by(col(Village.position))).all()
    )


def village_by_name(
    *, session: Session, name: str | None, active_only: bool = True
) -> Village | None:
    query = select(Village).where(Village.name == name)
    if active_only:
        query = query.where(Village.active)
    return session.exec(query).first()


# --- groups and chats ------------------------------------------------------------------------


def all_groups(*, session: Session) -> list[ChatGroup]:
    """Every group, active or not."""
    return list(session.exec(select(ChatGroup)).all())


def first_group(*, session: Session, village_id: int) -> ChatGroup | None:
    """A village's first active group in grid order."""
    return session.exec(
        select(ChatGroup)
        .where(ChatGroup.village_id == village_id, ChatGroup.active)
        .order_by(col(ChatGroup.position))
    ).first()


def chat_group(*, session: Session, chat_key: str, active_only: bool = False) -> ChatGroup | None:
    """The group a platform chat ("telegram:-100…") is bound to; with `active_only`, only an
    active binding of an active group."""
    query = select(ChatGroup).join(GroupChat).where(GroupChat.chat_key == chat_key)
    if active_only:
        query = query.where(GroupChat.active, ChatGroup.active)
    return session.exec(query).first()


def platform_groups(
    *, session: Session, platform: str, village_ids: tuple[int, ...] | None = None
) -> list[tuple[ChatGroup, str, str]]:
    """Active groups with an active chat on one platform (of these villages; None: all), in grid
    order: (group, its chat key, village name)."""
    query = (
        select(ChatGroup, GroupChat.chat_key, Village.name)
        .join(GroupChat, col(GroupChat.group_id) == col(ChatGroup.id))
        .join(Village, col(Village.id) == col(ChatGroup.village_id))
        .where(
            col(GroupChat.chat_key).like(f"{platform}:%"),
            GroupChat.active,
            ChatGroup.active,
        )
    )
    if village_ids is not None:
        query = query.where(col(ChatGroup.village_id).in_(village_ids))
    rows = session.exec(query.order_by(col(Village.position), col(ChatGroup.position))).all()
    return [(group, key, village) for group, key, village in rows]


def seen_village(*, session: Session, sender: str) -> int | None:
    """The village of the group a sender was last seen in."""
    return session.exec(
        select(ChatGroup.village_id)
        .join(Seen, col(Seen.group_id) == col(ChatGroup.id))
        .where(Seen.sender == sender)
    ).first()


def group_pool(*, session: Session, group_id: int) -> list[Person]:
    """The owner pool of a group: its active members in file order."""
    return list(
        session.exec(
            select(Person)
            .join(GroupMember, col(GroupMember.person_id) == col(Person.id))
            .where(GroupMember.group_id == group_id, Person.active)
            .order_by(col(GroupMember.position))
        ).all()
    )


# --- people ----------------------------------------------------------------------------------


def all_people(*, session: Session) -> list[Person]:
    """Every person, active or not."""
    return list(session.exec(select(Person)).all())


def village_people(*, session: Session, village_id: int) -> list[Person]:
    """A village's active people in grid order."""
    return list(
        session.exec(
            select(Person)
            .where(Person.village_id == village_id, Person.active)
            .order_by(col(Person.position))
        ).all()
    )


def people_by_ids(*, session: Session, ids: Sequence[int]) -> dict[int, Person]:
    found = session.exec(select(Person).where(col(Person.id).in_(list(ids))))
    return {p.id: p for p in found if p.id is not None}


def people_named(*, session: Session, name: str, village: str | None = None) -> list[Person]:
    """Active grid people of that name (in the village of that name, when given)."""
    query = select(Person).where(Person.name == name, Person.active)
    if village:
        query = query.join(Village, col(Village.id) == col(Person.village_id)).where(
            Village.name == village
        )
    return list(session.exec(query))


def secretary(*, session: Session, village_id: int) -> Person | None:
    """The village's (first active) 书记."""
    return session.exec(
        select(Person)
        .where(Person.village_id == village_id, Person.active, Person.role == Role.SECRETARY)
        .order_by(col(Person.position))
    ).first()


def town_leaders(*, session: Session) -> list[Person]:
    """The active 镇领导, in grid order."""
    return list(
        session.exec(
            select(Person)
            .where(Person.role == Role.TOWN_LEADER, Person.active)
            .order_by(col(Person.position))
        ).all()
    )


# --- platform accounts -----------------------------------------------------------------------


def grid_keys(*, session: Session) -> set[str]:
    """Every platform account of an active grid person."""
    return set(session.exec(select(PersonId.key).join(Person).where(Person.active)).all())


def person_by_key(*, session: Session, key: str) -> Person | None:
    """The active grid person behind a platform account ("telegram:10001")."""
    return session.exec(
        select(Person).join(PersonId).where(PersonId.key == key, Person.active)
    ).first()


def key_owner(*, session: Session, key: str) -> Person | None:
    """The grid person behind a platform account, active or not."""
    return session.exec(
        select(Person)
        .join(PersonId, col(PersonId.person_id) == col(Person.id))
        .where(PersonId.key == key)
    ).first()


def default_key(*, session: Session, person_id: int | None) -> str | None:
    """A person's first platform account (their default), if they have one."""
    return session.exec(
        select(PersonId.key).where(PersonId.person_id == person_id).order_by(col(PersonId.id))
    ).first()


def platform_people(
    *, session: Session, platform: str, village_ids: tuple[int, ...] | None = None
) -> list[tuple[str, str]]:
    """(account key, role) of the active grid people with an account on one platform (of these
    villages; None: all), by village then grid order."""
    query = (
        select(PersonId.key, Person.role)
        .join(Person, col(Person.id) == col(PersonId.person_id))
        .where(col(PersonId.key).like(f"{platform}:%"), Person.active)
    )
    if village_ids is not None:
        query = query.where(col(Person.village_id).in_(village_ids))
    rows = session.exec(query.order_by(col(Person.village_id), col(Person.position))).all()
    return [(key, role) for key, role in rows]


def person_keys(*, session: Session, person_id: int) -> list[str]:
    """A person's platform accounts, in the order they were added (the first is their default)."""
    return list(
        session.exec(
            select(PersonId.key).where(PersonId.person_id == person_id).order_by(col(PersonId.id))
        ).all()
    )


PERSON_ID = SQLModel.metadata.tables["personid"]


def accounts(*, session: Session, person_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each person's platform accounts, in the order they were added (persons without any
    are left out)."""
    out: dict[int, list[str]] = defaultdict(list)
    for person_id, key in session.execute(
        sa_select(PERSON_ID.c.person_id, PERSON_ID.c.key)
        .where(PERSON_ID.c.person_id.in_(list(person_ids)))
        .order_by(PERSON_ID.c.id)
    ).all():
        out[person_id].append(key)
    return out


__all__ = [
    "accounts",
    "active_villages",
    "all_groups",
    "all_people",
    "all_villages",
    "chat_group",
    "default_key",
    "first_group",
    "grid_keys",
    "group_pool",
    "groups",
    "key_owner",
    "people",
    "people_by_ids",
    "people_named",
    "person_by_key",
    "person_keys",
    "platform_groups",
    "platform_people",
    "secretary",
    "seen_village",
    "town_leaders",
    "village_by_name",
    "village_people",
    "villages",
]
