"""Leases: a duty exactly one instance performs at a time, among several on one database.

The WeChat gateway allows one event stream, and two instances reading it would each handle
every message (twice the work, half the messages each when the gateway splits them). So the
stream is a lease named after the gateway (`wechat:<endpoint>`): the instance holding it reads
the stream; the others stand by and take over when the holder stops renewing.

    acquire(engine, name, me, ttl=30)   → epoch when `me` holds it now, else None
    renew(engine, name, me, epoch, ttl) → False when it was lost (another holds it now)
    release(engine, name, me)           → another may take it at once
    await hold(engine, name, me, work)  → run `work` whenever and only while the lease is ours

The row is the whole truth: one upsert decides who holds it, so two instances racing for a
free lease cannot both win (PostgreSQL: INSERT … ON CONFLICT DO UPDATE … WHERE; SQLite: the
same statement under its single writer). `epoch` grows each time the lease changes hands: a
fencing token a holder can compare. Times come from PostgreSQL's clock when the database is
PostgreSQL (instances on several hosts then need no synchronised clocks), else from this host's
clock; they are stored in UTC.

Timing with the defaults (ttl 30 s): the holder renews every 10 s and stops its work if it has
not renewed for 25 s (the database unreachable); a standby tries every 10 s. A holder that dies
is replaced within ttl + 10 s = 40 s; one that shuts down cleanly releases at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from storage.models import Lease

log = logging.getLogger(__name__)

TABLE = Lease.__table__  # type: ignore[attr-defined]
DEFAULT_TTL = 30.0
RELEASED = datetime(1970, 1, 1, tzinfo=UTC)
# Leases this process holds now (name → epoch), for /metrics and the status page.
HELD: dict[str, int] = {}


def wechat_lease(endpoint: str) -> str:
    """The lease on one WeChat gateway's event stream."""
    return f"wechat:{endpoint.split('://', 1)[-1]}"


def holder_id() -> str:
    """This process, recognisably: host:pid:random."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


# The holder `hold` uses by default: one per process, so a door stopped without a clean exit
# and started again in the same process gets its lease back at once.
PROCESS = holder_id()


@dataclass(frozen=True)
class LeaseState:
    name: str
    holder: str
    epoch: int
    acquired_at: datetime
    expires_at: datetime


def _now(conn: Connection, now: datetime | None) -> datetime:
    if now is not None:
        return now.astimezone(UTC)
    if conn.dialect.name == "postgresql":
        value: datetime = conn.execute(select(func.now())).scalar_one()
        return value.astimezone(UTC)
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite keeps no offset


def acquire(
    engine: Engine, name: str, holder: str, *, ttl: float = DEFAULT_TTL, now: datetime | None = None
) -> int | None:
    """Take the lease if it is free or expired, or extend it if `holder` has it already.
    Returns the epoch when `holder` holds it now (until now + ttl), None when someone else
    holds an unexpired lease."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    with engine.begin() as conn:
        at = _now(conn, now)
        until = at + timedelta(seconds=ttl)
        same = TABLE.c.holder == holder
        stmt = insert(TABLE).values(
            name=name, holder=holder, epoch=1, acquired_at=at, expires_at=until
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[TABLE.c.name],
            set_={
                "holder": holder,
                "epoch": case((same, TABLE.c.epoch), else_=TABLE.c.epoch + 1),
                "acquired_at": case((same, TABLE.c.acquired_at), else_=at),
                "expires_at": until,
            },
            where=or_(same, TABLE.c.expires_at <= at),
        )
        conn.execute(stmt)
        row = conn.execute(select(TABLE.c.holder, TABLE.c.epoch).where(TABLE.c.name == name)).one()
    return int(row.epoch) if row.holder == holder else None


def renew(
    engine: Engine,
    name: str,
    holder: str,
    epoch: int,
    *,
    ttl: float = DEFAULT_TTL,
    now: datetime | None = None,
) -> bool:
    """Extend the lease held since `epoch`; False when it has changed hands meanwhile."""
    with engine.begin() as conn:
        at = _now(conn, now)
        done = conn.execute(
            update(TABLE)
            .where(TABLE.c.name == name, TABLE.c.holder == holder, TABLE.c.epoch == epoch)
            .values(expires_at=at + timedelta(seconds=ttl))
        )
    return done.rowcount == 1


def release(engine: Engine, name: str, holder: str) -> bool:
    """Give the lease up so another instance takes it at its next try; False if not ours."""
    with engine.begin() as conn:
        done = conn.execute(
            update(TABLE)
            .where(TABLE.c.name == name, TABLE.c.holder == holder)
            .values(expires_at=RELEASED)
        )
    return done.rowcount == 1


def state(engine: Engine, name: str) -> LeaseState | None:
    with engine.connect() as conn:
        row = conn.execute(select(TABLE).where(TABLE.c.name == name)).first()
    if row is None:
        return None
    return LeaseState(
        row.name, row.holder, int(row.epoch), _aware(row.acquired_at), _aware(row.expires_at)
    )


Work = Callable[[], Awaitable[object]]


async def hold(
    engine: Engine,
    name: str,
    work: Work,
    *,
    holder: str | None = None,
    ttl: float = DEFAULT_TTL,
    on_change: Callable[[bool, int], None] | None = None,
) -> None:
    """Run `work` whenever, and only while, this process holds the lease `name`; forever.

    Standing by, it tries to take the lease every ttl/3. Holding it, it starts `work` and
    renews every ttl/3; `work` is cancelled when the lease is lost, or when no renewal has
    succeeded for ttl − ttl/6 (the database unreachable: by then another instance may take it).
    When `work` ends by itself (returns or raises), the lease is released and, after a pause,
    sought again. Cancelling `hold` cancels `work` and releases the lease.
    `on_change(held, epoch)` is told each time the lease is won or lost.
    """
    me = holder or PROCESS
    step = ttl / 3
    margin = ttl / 6
    try:
        while True:
            epoch = await _try(acquire, engine, name, me, ttl=ttl)
            if epoch is None:
                await asyncio.sleep(step)
                continue
            deadline = time.monotonic() + ttl - margin
            log.info("lease %s taken (epoch %d) by %s", name, epoch, me)
            HELD[name] = epoch
            if on_change:
                on_change(True, epoch)
            task = asyncio.ensure_future(work())
            try:
                ended = await _guard(engine, name, me, epoch, task, ttl, step, deadline)
            finally:
                HELD.pop(name, None)
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                if on_change:
                    on_change(False, epoch)
            if ended:  # the work stopped by itself: let another instance (or us) try again
                await _try(release, engine, name, me)
                await asyncio.sleep(step)
    finally:  # cancelled: give the lease up for the next instance (a no-op when not ours)
        with contextlib.suppress(BaseException):
            await asyncio.shield(asyncio.to_thread(release, engine, name, me))


async def _guard(
    engine: Engine,
    name: str,
    me: str,
    epoch: int,
    task: asyncio.Future[object],
    ttl: float,
    step: float,
    deadline: float,
) -> bool:
    """Renew while `task` runs. True when the task ended by itself, False when the lease was
    lost (or could not be renewed in time)."""
    while True:
        wait = max(0.0, min(step, deadline - time.monotonic()))
        done, _ = await asyncio.wait({task}, timeout=wait)
        if done:
            exc = task.exception() if not task.cancelled() else None
            if exc is not None:
                log.error("work under lease %s failed: %r", name, exc)
            return True
        started = time.monotonic()
        try:
            ours = await asyncio.to_thread(renew, engine, name, me, epoch, ttl=ttl)
        except Exception as exc:  # the database is away: keep the work until the deadline
            if time.monotonic() >= deadline:
                log.warning("lease %s not renewed in time (%s); stopping its work", name, exc)
                return False
            log.warning("lease %s: renewal failed (%s); trying again", name, exc)
            await asyncio.sleep(min(1.0, step))
            continue
        if not ours:
            log.warning("lease %s was taken over by another instance; stopping its work", name)
            return False
        deadline = started + ttl - ttl / 6


async def _try(fn: Callable[..., object], *args: object, **kwargs: object) -> int | None:
    try:
        result = await asyncio.to_thread(fn, *args, **kwargs)
    except Exception as exc:
        log.warning("lease: %s failed (%s)", getattr(fn, "__name__", fn), exc)
        return None
    return result if isinstance(result, int) and not isinstance(result, bool) else None
