"""A village's canned replies (常用回复): what its cadres pick on the issue page for 办结 and
进展 instead of typing it again; kept by its 书记."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from storage.admin_tables import CannedReply

PURPOSES = ("close", "note")  # 办结的结果, 进展
MAX_TEXT = 200
MAX_PER_VILLAGE = 50


def replies(*, session: Session, village_id: int, purpose: str | None = None) -> list[CannedReply]:
    """The village's replies (of one purpose, or all), in the order they were added."""
    query = select(CannedReply).where(CannedReply.village_id == village_id)
    if purpose is not None:
        query = query.where(CannedReply.purpose == purpose)
    return list(session.exec(query.order_by(col(CannedReply.id))).all())


def get_reply(*, session: Session, reply_id: int) -> CannedReply | None:
    return session.get(CannedReply, reply_id)


def add_reply(
    *, session: Session, village_id: int, purpose: str, text: str, now: datetime
) -> CannedReply:
    reply = CannedReply(village_id=village_id, purpose=purpose, text=text, created_at=now)
    session.add(reply)
    session.flush()
    return reply


def delete_reply(*, session: Session, reply: CannedReply) -> None:
    session.delete(reply)


__all__ = [
    "MAX_PER_VILLAGE",
    "MAX_TEXT",
    "PURPOSES",
    "add_reply",
    "delete_reply",
    "get_reply",
    "replies",
]
