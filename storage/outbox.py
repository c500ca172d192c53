"""The outbox: every outgoing message is a row first. How a row is built and queued (the one
place that builds it: handlers.outbox.enqueue for a message at a time, the scheduler's notices
for a sweep's messages at once), what the sender claims and marks, and what `shuoshi outbox`,
the admin and the status page show. Functions never commit; the caller's transaction decides.

A row moves pending → sending (claimed by one sender, with a lease) → sent | failed; a failed
try that may still succeed goes back to pending with a later `not_before`. Every state change
is one short statement, so a row is never half-claimed and two senders never hold the same row.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, bindparam, func, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.dml import Update
from sqlmodel import Session, col, select

from storage import writes
from storage.models import Outbox
from storage.writes import as_loaded

PENDING = "pending"
SENDING = "sending"  # claimed by a sender; `claimed_until` is its lease
SENT = "sent"
FAILED = "failed"
STATUSES = (PENDING, SENDING, SENT, FAILED)
ERROR_LENGTH = 500  # what is kept of an error message


# --- queueing --------------------------------------------------------------------------------

# Built once: a reply is queued for nearly every post, and an ORM object with its flush costs
# several times the INSERT itself.
_TABLE = cast(Table, Outbox.__table__)  # type: ignore[attr-defined]
_INSERT = insert(Outbox)
_BY_DEDUPE_KEY = select(Outbox.id).where(col(Outbox.dedupe_key) == bindparam("key"))


def message_row(
    *,
    platform: str,
    chat: str,
    private: bool,
    text: str,
    now: datetime,
    recipient: str = "",
    mention: str | None = None,
    buttons: Sequence[tuple[str, str]] | None = None,
    issue_id: int | None = None,
    reply_to: str | None = None,
    category: str = "reply",
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
    image: str | None = None,
) -> dict[str, Any]:
    """The outbox row of one message, due `not_before` (default: now), pending. The text as it
    is to be sent: masking a group's text is the caller's (handlers.outbox.enqueue)."""
    return {
        "platform": platform,
        "chat": chat,
        "private": private,
        "recipient": recipient,
        "mention": mention,
        "text": text,
        "buttons": json.dumps(list(buttons or []), ensure_ascii=False),
        "issue_id": issue_id,
        "reply_to": reply_to,
        "category": category,
        "dedupe_key": dedupe_key,
        "created_at": now,
        "not_before": not_before or now,
        "status": PENDING,
        "tries": 0,
        "image": image,
    }


def queue(*, session: Session, row: Mapping[str, Any]) -> int | None:
    """Write one `message_row` in the session's transaction; its outbox id. With a dedupe_key,
    a message already queued under that key is not queued again (None). The row is written at
    once or, in a burst of posts (storage.writes.deferred), with the burst's other rows at its
    end (no id then: None); either way rows keep the order in which they were queued."""
    conn = session.connection()
    dedupe_key = row["dedupe_key"]
    if dedupe_key:
        # The check must see every row queued before, and this row is written at once.
        writes.write_deferred(session)
        if conn.execute(_BY_DEDUPE_KEY, {"key": dedupe_key}).first():
            return None
    if dedupe_key is None and writes.is_deferring(session):
        writes.insert_later(session, _INSERT, row)
        return None
    key = conn.execute(_INSERT, row).inserted_primary_key
    return int(key[0]) if key else None


def queue_many(*, session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Write many `message_row`s in one statement; their ids, in order."""
    if not rows:
        return []
    ids = session.execute(
        insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True), list(rows)
    ).scalars()
    return [int(i) for i in ids]


def buttons_of(row: Outbox) -> list[tuple[str, str]]:
    return [(label, data) for label, data in json.loads(row.buttons or "[]")]


def sent_message(*, session: Session, platform: str, chat: str, message_id: str) -> Outbox | None:
    """The message the bot sent to this chat under this platform message id."""
    return session.exec(
        select(Outbox).where(
            Outbox.platform == platform,
            Outbox.chat == chat,
            Outbox.platform_message_id == message_id,
        )
    ).first()


# --- the sender ------------------------------------------------------------------------------

# The sender's statements run on its own autocommit Connection (one round trip, no ORM
# session per row); `shuoshi outbox` and the admin may pass a Session. Statements are on the
# Core table, and the per-row ones are built once: building an ORM update per row cost more
# than the database's own work on it.
Db = Session | Connection


def _run(db: Db, statement: Executable, params: dict[str, Any] | None = None) -> CursorResult[Any]:
    if isinstance(db, Session):
        return cast(CursorResult[Any], db.exec(statement, params=params))  # type: ignore[call-overload]
    return cast(CursorResult[Any], db.execute(statement, params))


def claim_due(
    *,
    db: Db,
    platforms: Sequence[str],
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    skip_chats: Mapping[str, Collection[str]] | None = None,
    include_expired: bool = True,
    per_chat: int | None = None,
) -> list[Outbox]:
    """Claim up to `limit` rows due now for these platforms, oldest first, leaving out the
    chats in `skip_chats` (platform → chat ids: those the caller is busy with, whose next
    rows it will take when it is done). The claim is visible to others once the caller's
    transaction commits (the sender runs in autocommit: at once).

    Rows whose sender died (status sending, lease passed) come first, then pending rows. On
    PostgreSQL the inner SELECT locks with SKIP LOCKED, so a second sender running the same
    statement at the same moment skips these rows and takes the next ones instead of waiting;
    on SQLite the single UPDATE statement holds the database's write lock. Either way, once
    this returns, the rows are ours until the lease passes. `include_expired=False` skips the
    look for rows of dead senders (a statement of its own, rarely with anything to find).
    `per_chat` caps the rows claimed for any one chat (its oldest): a chat's rows are sent one
    after another anyway, and a chat with a long queue would otherwise fill the claim with
    rows only to be given back.
    """
    if not platforms or limit <= 0:
        return []
    busy = [
        f"{platform}:{chat}" for platform, chats in (skip_chats or {}).items() for chat in chats
    ]
    params: dict[str, Any] = {
        "c_platforms": list(platforms),
        "c_busy": sorted(busy),
        "c_now": now,
        "c_owner": owner,
        "c_until": now + lease,
        "c_per_chat": per_chat or limit,
    }
    claimed: list[Outbox] = []
    # Two statements, not one with OR: each walks its index in order, where an OR would make
    # PostgreSQL sort every due row to find the oldest hundred.
    for expired in (True, False) if include_expired else (False,):
        wanted = limit - len(claimed)
        if wanted <= 0:
            break
        rows = _run(db, _claim_statement(expired=expired), {**params, "c_wanted": wanted})
        # Built as if loaded (no session, no validation): several times cheaper than the ORM's
        # UPDATE … RETURNING entities, and the sender only reads them.
        claimed.extend(as_loaded(Outbox, row) for row in rows.mappings())
    claimed.sort(key=lambda row: (row.not_before, row.id or 0))
    return claimed


@cache
def _claim_statement(*, expired: bool) -> Update:
    """The claim of `claim_due`, built once: a claim runs several times a second, and building
    the statement anew cost more than the database's work on it."""
    t = _TABLE
    if expired:  # a dead sender's rows: still "sending", lease passed
        condition = and_(t.c.status == SENDING, t.c.claimed_until < bindparam("c_now"))
    else:
        condition = and_(t.c.status == PENDING, t.c.not_before <= bindparam("c_now"))
    # MATERIALIZED: PostgreSQL must pick the ids once. Planned as a join instead, it can
    # rescan the subquery, which then skips the rows this statement already updated and
    # returns further ones: far more than `limit` rows claimed.
    oldest = (
        select(t.c.id, t.c.platform, t.c.chat, t.c.not_before)
        .where(
            condition,
            t.c.platform.in_(bindparam("c_platforms", expanding=True)),
            (t.c.platform + ":" + t.c.chat).not_in(bindparam("c_busy", expanding=True)),
        )
        .order_by(t.c.not_before, t.c.id)
        .limit(bindparam("c_wanted"))
        .with_for_update(skip_locked=True)
        .cte("due")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    # Each chat's oldest `c_per_chat`, numbered outside the locking SELECT (PostgreSQL allows
    # no window function beside FOR UPDATE); the rows left out were only looked at.
    place = func.row_number().over(
        partition_by=(oldest.c.platform, oldest.c.chat),
        order_by=(oldest.c.not_before, oldest.c.id),
    )
    ranked = select(oldest.c.id, place.label("place")).subquery("ranked")
    ids = select(ranked.c.id).where(ranked.c.place <= bindparam("c_per_chat"))
    # The ids alone pick the rows: they are ours already (locked on PostgreSQL; SQLite's
    # statement holds the write lock). Repeating `condition` here made SQLite walk every
    # pending row by its index instead of looking up these few by id.
    return (
        update(t)
        .where(t.c.id.in_(ids))
        .values(status=SENDING, claimed_by=bindparam("c_owner"), claimed_until=bindparam("c_until"))
        .returning(*t.c)
    )


def _finish_statement(*columns: str, count_try: bool = True, many: bool = False) -> Update:
    # Every finish but a rate limit's counts one try; only the sender holding the claim may
    # finish it.
    t = _TABLE
    tries = {"tries": t.c.tries + 1} if count_try else {}
    return (
        update(t)
        .where(
            t.c.id.in_(bindparam("b_ids", expanding=True)) if many else t.c.id == bindparam("b_id"),
            t.c.status == SENDING,
            t.c.claimed_by == bindparam("b_owner"),
        )
        .values(**tries, claimed_until=None, **{c: bindparam(f"b_{c}") for c in columns})
    )


_MARK_SENT = _finish_statement("status", "sent_at", "platform_message_id")
# Rows that went out as one message (scheduler.sender: merging), marked in one statement.
_MARK_SENT_MANY = _finish_statement("status", "sent_at", "platform_message_id", many=True)
_MARK_RETRY = _finish_statement("status", "not_before", "last_error")
_MARK_FAILED = _finish_statement("status", "last_error")
_MARK_WAIT = _finish_statement("status", "not_before", "last_error", count_try=False)


def _finish(db: Db, statement: Update, outbox_id: int, owner: str, **values: object) -> bool:
    params = {"b_id": outbox_id, "b_owner": owner, **{f"b_{k}": v for k, v in values.items()}}
    return _run(db, statement, params).rowcount == 1


def mark_sent(*, db: Db, outbox_id: int, owner: str, now: datetime, message_id: str) -> bool:
    """Record a delivery; False when the row is no longer ours (our lease passed and another
    sender took it: the message may then reach the chat twice)."""
    return _finish(
        db, _MARK_SENT, outbox_id, owner, status=SENT, sent_at=now, platform_message_id=message_id
    )


def mark_sent_together(
    *, db: Db, outbox_ids: Sequence[int], owner: str, now: datetime, message_id: str
) -> int:
    """Record rows delivered as one message (one platform message id for all); how many of
    them were still ours (see mark_sent)."""
    if len(outbox_ids) == 1:  # the usual case: no list to expand
        return int(
            mark_sent(db=db, outbox_id=outbox_ids[0], owner=owner, now=now, message_id=message_id)
        )
    params = {
        "b_ids": list(outbox_ids),
        "b_owner": owner,
        "b_status": SENT,
        "b_sent_at": now,
        "b_platform_message_id": message_id,
    }
    return _run(db, _MARK_SENT_MANY, params).rowcount


def mark_retry(*, db: Db, outbox_id: int, owner: str, not_before: datetime, error: str) -> bool:
    """A failed try that may succeed later: pending again, not before `not_before`."""
    return _finish(
        db,
        _MARK_RETRY,
        outbox_id,
        owner,
        status=PENDING,
        not_before=not_before,
        last_error=error[:ERROR_LENGTH],
    )


def mark_wait(*, db: Db, outbox_id: int, owner: str, not_before: datetime, error: str) -> bool:
    """The platform asked us to slow down (HTTP 429 with retry_after): pending again, not
    before `not_before`, and no try counted, so a long flood never makes a row fail."""
    return _finish(
        db,
        _MARK_WAIT,
        outbox_id,
        owner,
        status=PENDING,
        not_before=not_before,
        last_error=error[:ERROR_LENGTH],
    )


def mark_failed(*, db: Db, outbox_id: int, owner: str, error: str) -> bool:
    """Given up: the row stays "failed", visible in `shuoshi outbox`, until retried by hand."""
    return _finish(
        db, _MARK_FAILED, outbox_id, owner, status=FAILED, last_error=error[:ERROR_LENGTH]
    )


def release(*, db: Db, outbox_ids: Iterable[int], owner: str, not_before: datetime | None) -> int:
    """Give claimed rows back untried (the chat must wait, or the sender stops): pending again,
    no try counted; with `not_before`, not before then."""
    ids = list(outbox_ids)
    if not ids:
        return 0
    t = _TABLE
    values: dict[str, object] = {"status": PENDING, "claimed_until": None}
    if not_before is not None:
        values["not_before"] = not_before
    statement = (
        update(t)
        .where(t.c.id.in_(ids), t.c.status == SENDING, t.c.claimed_by == owner)
        .values(**values)
    )
    return _run(db, statement).rowcount


def claims_by_host(*, db: Db, host: str) -> dict[str, list[int]]:
    """Rows in "sending" claimed by senders on this host, by claim owner."""
    t = _TABLE
    statement = select(t.c.id, t.c.claimed_by).where(
        t.c.status == SENDING, t.c.claimed_by.startswith(f"{host}:")
    )
    owners: dict[str, list[int]] = {}
    for row in _run(db, statement):
        owners.setdefault(row.claimed_by, []).append(row.id)
    return owners


# --- what people look at (shuoshi outbox, the admin) ---------------------------------------------


def count_by_status(*, session: Session) -> dict[str, int]:
    """Rows per status, every status present (0 when none)."""
    counts = dict.fromkeys(STATUSES, 0)
    for status, n in session.exec(
        select(Outbox.status, func.count()).group_by(col(Outbox.status))
    ).all():
        counts[status] = n
    return counts


def list_outbox(
    *, session: Session, statuses: Sequence[str] = (PENDING, SENDING, FAILED), limit: int = 100
) -> list[Outbox]:
    """Rows in these statuses, oldest first."""
    return list(
        session.exec(
            select(Outbox)
            .where(col(Outbox.status).in_(statuses))
            .order_by(col(Outbox.id))
            .limit(limit)
        ).all()
    )


def list_failed(*, session: Session, limit: int = 100) -> list[Outbox]:
    return list_outbox(session=session, statuses=(FAILED,), limit=limit)


def unsent_for_issue(*, session: Session, issue_id: int) -> list[Outbox]:
    """Messages about an issue that have not gone out (pending, sending, failed), for its page."""
    return list(
        session.exec(
            select(Outbox)
            .where(Outbox.issue_id == issue_id, col(Outbox.status).in_((PENDING, SENDING, FAILED)))
            .order_by(col(Outbox.id))
        ).all()
    )


def retry_failed(*, session: Session, outbox_id: int, now: datetime) -> Outbox | None:
    """Send a failed row again: pending, due now, its tries counted afresh. None when there
    is no failed row with that id. The caller commits."""
    row = session.get(Outbox, outbox_id)
    if row is None or row.status != FAILED:
        return None
    row.status = PENDING
    row.tries = 0
    # Never later than when it was last due: a sender whose clock runs behind the operator's
    # (a test's fake clock, a skewed second host) still takes it at once.
    row.not_before = min(row.not_before, now) if row.not_before else now
    row.claimed_by = None
    row.claimed_until = None
    session.add(row)
    session.flush()
    return row


def oldest_pending(*, session: Session, platforms: Sequence[str] | None = None) -> datetime | None:
    """When the next pending row (of these platforms; of any without) falls due (None when
    there is none)."""
    query = select(func.min(Outbox.not_before)).where(col(Outbox.status) == PENDING)
    if platforms is not None:
        query = query.where(col(Outbox.platform).in_(platforms))
    return session.exec(query).one()


# --- the status page -------------------------------------------------------------------------


def unsent_summary(*, session: Session) -> dict[tuple[str, str], int]:
    """(platform, status) → number of outbox rows not (yet) sent: pending, sending, failed."""
    rows = session.execute(
        sa_select(col(Outbox.platform), col(Outbox.status), func.count())
        .where(col(Outbox.status).in_((PENDING, SENDING, FAILED)))
        .group_by(col(Outbox.platform), col(Outbox.status))
    ).all()
    return {(p, s): n for p, s, n in rows}


def latest_failed(*, session: Session, limit: int = 10) -> list[Outbox]:
    """The rows given up on, newest first."""
    return list(
        session.exec(
            select(Outbox)
            .where(Outbox.status == FAILED)
            .order_by(col(Outbox.id).desc())
            .limit(limit)
        )
    )


def next_due_after(*, session: Session, after: datetime) -> datetime | None:
    """When the next pending row not due yet falls due (a retry waiting; None: none)."""
    return session.execute(
        sa_select(func.min(_TABLE.c.not_before)).where(
            _TABLE.c.status == PENDING, _TABLE.c.not_before > after
        )
    ).scalar()


# --- the sender's connection ---------------------------------------------------------------


def sender_connection(engine: Engine, *, async_commit: bool) -> Connection:
    """A connection of its own for a sender, in autocommit mode: every claim, mark and release
    is one statement, atomic by itself. With `async_commit` (PostgreSQL), a send's mark does not
    wait for the disk: a mark lost in a crash is a message sent twice, which the claim's lease
    allows anyway."""
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    if async_commit:
        conn.exec_driver_sql("SET synchronous_commit TO off")
    return conn


def release_connection(conn: Connection, *, async_commit: bool) -> None:
    """Give a sender's connection back to the pool as the pool lent it."""
    if async_commit:  # the pool hands this connection to others next
        conn.exec_driver_sql("RESET synchronous_commit")
    conn.close()
