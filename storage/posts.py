"""Posts: inbox rows as the matters they stand for. The posts the bot kept without
registering them (unsure, chatter: the admin's 未登记帖子 and the scheduler's unanswered
triage cards), and the posts that are an issue's reports (the one that registered it and those
linked to it as the same matter).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Row
from sqlmodel import Session, SQLModel, col, select

from storage.models import ChatGroup, GroupChat, Inbound, Seen


def _post_village() -> Any:
    """The village of an inbox row: its group's, or for a private post, the group its sender
    was last seen in."""
    via_chat = (
        select(ChatGroup.village_id)
        .join(GroupChat, col(GroupChat.group_id) == col(ChatGroup.id))
        .where(col(GroupChat.chat_key) == col(Inbound.platform) + ":" + col(Inbound.chat))
        .limit(1)
        .scalar_subquery()
    )
    via_seen = (
        select(ChatGroup.village_id)
        .join(Seen, col(Seen.group_id) == col(ChatGroup.id))
        .where(col(Seen.sender) == col(Inbound.sender))
        .limit(1)
        .scalar_subquery()
    )
    return case((col(Inbound.private), via_seen), else_=via_chat)


# Listed kept posts are counted up to this many: chatter is most of what a group says, and
# an exact count of years of it would be read on every page for nothing.
POSTS_COUNT_CAP = 10_000
KEPT_STATUSES = ("unsure", "chatter")


def kept_posts(
    *,
    session: Session,
    status: str,
    villages: tuple[int, ...] | None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Row[Any]], int]:
    """Posts the bot kept without registering them, of one status ("unsure": a person decides;
    "chatter": taken for talk), newest first, with their village id; and how many (at most
    POSTS_COUNT_CAP). Chatter without words (stickers, a cadre's photo) is not listed: there
    is nothing in it to register."""
    if status not in KEPT_STATUSES:
        raise ValueError(f"not a kept post's status: {status}")
    village = _post_village()
    where = [col(Inbound.status) == status]
    if status == "chatter":
        where.append(col(Inbound.text) != "")
    if villages is not None:
        where.append(or_(village.in_(villages), village.is_(None)))
    capped = sa_select(col(Inbound.id)).where(*where).limit(POSTS_COUNT_CAP).subquery()
    total = session.execute(sa_select(func.count()).select_from(capped)).scalar_one()
    rows = session.execute(
        sa_select(Inbound, village.label("village_id"))
        .where(*where)
        .order_by(col(Inbound.received_at).desc(), col(Inbound.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), int(total)


def linked_reports(*, session: Session, issue_id: int) -> list[Inbound]:
    """The posts linked to an issue as reports of the same matter (inbox status "duplicate"),
    oldest first. Read through the status index: duplicates are a small part of the inbox."""
    return list(
        session.exec(
            select(Inbound)
            .where(col(Inbound.status) == "duplicate", col(Inbound.issue_id) == issue_id)
            .order_by(col(Inbound.received_at), col(Inbound.id))
        )
    )


def report_posts(*, session: Session, issue_id: int, statuses: Sequence[str]) -> list[Inbound]:
    """The posts of an issue in these inbox statuses, oldest first, locked for a change."""
    return list(
        session.exec(
            select(Inbound)
            .where(Inbound.issue_id == issue_id, col(Inbound.status).in_(list(statuses)))
            .order_by(col(Inbound.received_at), col(Inbound.id))
            .with_for_update()
        ).all()
    )


INBOUND = SQLModel.metadata.tables["inbound"]


def unsure_posts(
    *, session: Session, ids: Sequence[int], received_before: datetime
) -> list[Row[Any]]:
    """Of these posts, those still unsure (no one decided them) and received before then:
    (id, sender_name, text, received_at), by id."""
    return list(
        session.execute(
            sa_select(INBOUND.c.id, INBOUND.c.sender_name, INBOUND.c.text, INBOUND.c.received_at)
            .where(
                INBOUND.c.id.in_(list(ids)),
                INBOUND.c.status == "unsure",
                INBOUND.c.received_at <= received_before,
            )
            .order_by(INBOUND.c.id)
        ).all()
    )


__all__ = [
    "KEPT_STATUSES",
    "POSTS_COUNT_CAP",
    "kept_posts",
    "linked_reports",
    "report_posts",
    "unsure_posts",
]
