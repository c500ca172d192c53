"""The inbox: every message received is a row, recorded before it is handled
(storage.writes.insert_inbound on the per-post path). Looked up by its platform key or locked
by id for a change; and the statements for messages whose handling failed: counted, tried
again with backoff, set aside as "failed" after a few tries, listed and put back by an
operator. Also the local chat's conversation, both ways, for its web page.

A message is recorded with its outcome when it is handled (storage.writes.insert_inbound); a
row still "new" is one whose handling failed (or a process stopped mid-way). Each failure
counts a try and schedules the next one; after `MAX_TRIES` it is "failed" and no longer tried,
so one message can never stop the others, a restart, or the readiness check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlmodel import Session as ModelSession
from sqlmodel import col
from sqlmodel import select as select_models

from storage.models import Inbound, Outbox

MAX_TRIES = 5
# Waits after the 1st, 2nd, … failure: a passing fault (a locked database, a full disk that is
# cleared) is over by the next try; a message that fails every time is set aside in ~40 min.
BACKOFF = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
)
# A "new" row with no retry time yet (left by a process that stopped mid-way): due once it is
# this old, so that a message being handled right now is not taken twice.
STALE = timedelta(seconds=60)
UNHANDLED = ("new", "failed")


def backoff(tries: int) -> timedelta:
    return BACKOFF[min(max(tries, 1), len(BACKOFF)) - 1]


# --- one message -----------------------------------------------------------------------------


def find_message(
    *, session: ModelSession, platform: str, chat: str, message_id: str, lock: bool = False
) -> Inbound | None:
    """The message recorded under this platform key (platform, chat, platform message id);
    with `lock`, locked for a change."""
    query = select_models(Inbound).where(
        Inbound.platform == platform,
        Inbound.chat == chat,
        Inbound.message_id == message_id,
    )
    return session.exec(query.with_for_update() if lock else query).first()


def lock_message(
    *, session: ModelSession, inbound_id: int, must_exist: bool = False
) -> Inbound | None:
    """The message with this id, locked for a change; None when there is none (with
    `must_exist`: NoResultFound)."""
    query = select_models(Inbound).where(Inbound.id == inbound_id).with_for_update()
    if must_exist:
        return session.exec(query).one()
    return session.exec(query).first()


# --- handling that failed --------------------------------------------------------------------


def due_for_retry(session: Session, *, now: datetime, limit: int = 100) -> list[int]:
    """Ids of unhandled messages whose next try is due, oldest first."""
    due = or_(
        col(Inbound.retry_at) <= now,
        and_(col(Inbound.retry_at).is_(None), col(Inbound.received_at) <= now - STALE),
    )
    rows = session.execute(
        select(col(Inbound.id))
        .where(col(Inbound.status) == "new", due)
        .order_by(col(Inbound.id))
        .limit(limit)
    ).scalars()
    return [int(i) for i in rows if i is not None]


def pending_ids(session: Session) -> list[int]:
    """Every message recorded and not handled nor set aside (start-up tries them all)."""
    rows = session.execute(
        select(col(Inbound.id)).where(col(Inbound.status) == "new").order_by(col(Inbound.id))
    ).scalars()
    return [int(i) for i in rows if i is not None]


def mark_failure(conn: Connection, row_id: int, *, now: datetime, error: str) -> str:
    """Count a failed handling: schedule the next try, or set the message aside. The status
    it now has ("new" or "failed"); "" when it was handled meanwhile (another instance)."""
    tries = col(Inbound.tries) + 1
    result = conn.execute(
        update(Inbound)
        .where(col(Inbound.id) == row_id, col(Inbound.status) == "new")
        .values(
            tries=tries,
            error=error[:300],
            status=case((tries >= MAX_TRIES, "failed"), else_="new"),
        )
        .returning(col(Inbound.tries), col(Inbound.status))
    ).first()
    if result is None:
        return ""
    done, status = int(result[0]), str(result[1])
    if status == "new":
        conn.execute(
            update(Inbound).where(col(Inbound.id) == row_id).values(retry_at=now + backoff(done))
        )
    return status


@dataclass(frozen=True)
class Unhandled:
    id: int
    platform: str
    chat: str
    sender_name: str
    received_at: datetime
    status: str
    tries: int
    retry_at: datetime | None
    error: str | None


def unhandled(session: Session, *, limit: int = 50) -> list[Unhandled]:
    """Messages not handled yet or set aside, newest first (for `shuoshi inbox`, the status
    page). Who and when, not what they wrote: the text stays in the database."""
    rows = session.execute(
        select(
            col(Inbound.id),
            col(Inbound.platform),
            col(Inbound.chat),
            col(Inbound.sender_name),
            col(Inbound.received_at),
            col(Inbound.status),
            col(Inbound.tries),
            col(Inbound.retry_at),
            col(Inbound.error),
        )
        .where(col(Inbound.status).in_(UNHANDLED))
        .order_by(col(Inbound.id).desc())
        .limit(limit)
    ).all()
    return [Unhandled(*row) for row in rows]  # type: ignore[arg-type]  # ids are never NULL


def counts(session: Session) -> dict[str, int]:
    """How many messages wait ("new") and how many were set aside ("failed")."""
    rows = session.execute(
        select(col(Inbound.status), func.count())
        .where(col(Inbound.status).in_(UNHANDLED))
        .group_by(col(Inbound.status))
    ).all()
    found = {str(status): int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in UNHANDLED}


def oldest_waiting(session: Session) -> datetime | None:
    """When the oldest message still waiting to be handled came in."""
    return session.execute(
        select(func.min(col(Inbound.received_at))).where(col(Inbound.status) == "new")
    ).scalar()


def requeue(conn: Connection, ids: list[int] | None) -> int:
    """Put messages set aside back in line (after the cause was fixed): all when `ids` is None."""
    statement = update(Inbound).where(col(Inbound.status) == "failed")
    if ids is not None:
        statement = statement.where(col(Inbound.id).in_(ids))
    result = conn.execute(statement.values(status="new", tries=0, retry_at=None))
    return int(result.rowcount or 0)


# --- the local chat as a web page ------------------------------------------------------------


def local_conversation(
    session: ModelSession, *, chat: str, private: bool, limit: int = 100
) -> list[tuple[datetime, int, str, Any]]:
    """The last messages of one local chat, oldest first: (time, order, "in"|"out", row)."""
    inbound = session.exec(
        select_models(Inbound)
        .where(
            Inbound.platform == "local",
            Inbound.chat == chat,
            Inbound.private == private,
            col(Inbound.button).is_(None),
        )
        .order_by(col(Inbound.id).desc())
        .limit(limit)
    ).all()
    outbound = session.exec(
        select_models(Outbox)
        .where(
            Outbox.platform == "local",
            Outbox.chat == chat,
            Outbox.private == private,
            Outbox.status == "sent",
        )
        .order_by(col(Outbox.id).desc())
        .limit(limit)
    ).all()
    items: list[tuple[datetime, int, str, Any]] = [
        (row.received_at, 0, "in", row) for row in inbound
    ]
    items += [(row.sent_at or row.created_at, 1, "out", row) for row in outbound]
    items.sort(key=lambda item: (item[0], item[1], item[3].id or 0))
    return items[-limit:]
