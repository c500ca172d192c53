"""What the status page tells a 书记 about each group: its chats, when the bot last heard from
each, and how many of the bot's messages to it wait or failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from storage.models import ChatGroup, GroupChat, Inbound, Outbox, Village

WAITING = ("pending", "sending")
FAILED = "failed"


@dataclass(frozen=True)
class GroupChats:
    """A 说事群 and its active chats ("platform:id", or "platform-topic:title" not yet seen)."""

    group: str
    village: str
    chats: tuple[str, ...]


@dataclass(frozen=True)
class ChatActivity:
    last_heard: datetime | None  # the latest message the bot received in the chat
    waiting: int  # the bot's messages to it not sent yet
    failed: int  # … given up on
    last_error: str | None  # why the latest of those failed


def group_chats(*, session: Session, village_ids: tuple[int, ...] | None) -> list[GroupChats]:
    """The active groups of these villages (None: all), in grid order, each with its chats
    (none: the grid names no chat for it)."""
    query = (
        select(ChatGroup.name, Village.name, GroupChat.chat_key)
        .join(Village, col(Village.id) == col(ChatGroup.village_id))
        .outerjoin(
            GroupChat,
            and_(col(GroupChat.group_id) == col(ChatGroup.id), col(GroupChat.active)),
        )
        .where(ChatGroup.active)
        .order_by(col(Village.position), col(ChatGroup.position), col(GroupChat.id))
    )
    if village_ids is not None:
        query = query.where(col(ChatGroup.village_id).in_(village_ids))
    found: dict[str, GroupChats] = {}
    for group, village, key in session.exec(query).all():
        entry = found.get(group) or GroupChats(group=group, village=village, chats=())
        found[group] = GroupChats(
            group=group, village=village, chats=entry.chats + ((key,) if key else ())
        )
    return list(found.values())


def _pairs(keys: Sequence[str]) -> list[tuple[str, str]]:
    return [(k.split(":", 1)[0], k.split(":", 1)[1]) for k in keys if ":" in k]


def chat_activity(*, session: Session, chat_keys: Sequence[str]) -> dict[str, ChatActivity]:
    """Each of these group chats' activity (a chat never heard from nor written to: zeros)."""
    pairs = _pairs(chat_keys)
    if not pairs:
        return {}

    def among(table: type[Inbound] | type[Outbox]) -> ColumnElement[bool]:
        return or_(
            *(
                and_(col(table.platform) == platform, col(table.chat) == chat)
                for platform, chat in pairs
            )
        )

    heard = {
        f"{p}:{c}": at
        for p, c, at in session.execute(
            sa_select(col(Inbound.platform), col(Inbound.chat), func.max(col(Inbound.received_at)))
            .where(col(Inbound.private) == false(), among(Inbound))
            .group_by(col(Inbound.platform), col(Inbound.chat))
        ).all()
    }
    counts: dict[tuple[str, str], int] = {}
    for p, c, status, n in session.execute(
        sa_select(col(Outbox.platform), col(Outbox.chat), col(Outbox.status), func.count())
        .where(
            col(Outbox.status).in_((*WAITING, FAILED)),
            col(Outbox.private) == false(),
            among(Outbox),
        )
        .group_by(col(Outbox.platform), col(Outbox.chat), col(Outbox.status))
    ).all():
        key = f"{p}:{c}"
        kind = FAILED if status == FAILED else "waiting"
        counts[(key, kind)] = counts.get((key, kind), 0) + int(n)
    latest = (
        sa_select(func.max(col(Outbox.id)))
        .where(col(Outbox.status) == FAILED, col(Outbox.private) == false(), among(Outbox))
        .group_by(col(Outbox.platform), col(Outbox.chat))
    )
    errors = {
        f"{p}:{c}": error
        for p, c, error in session.execute(
            sa_select(col(Outbox.platform), col(Outbox.chat), col(Outbox.last_error)).where(
                col(Outbox.id).in_(latest)
            )
        ).all()
    }
    return {
        key: ChatActivity(
            last_heard=heard.get(key),
            waiting=counts.get((key, "waiting"), 0),
            failed=counts.get((key, FAILED), 0),
            last_error=errors.get(key),
        )
        for key in chat_keys
    }


__all__ = ["ChatActivity", "GroupChats", "chat_activity", "group_chats"]
