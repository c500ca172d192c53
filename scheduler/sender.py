"""The outbox sender: delivers pending rows through each platform's transport, marks them sent.

How a row travels (the SQL is in storage/outbox.py):

    pending ──claim──▶ sending (ours until claimed_until) ──send──▶ sent
                          │ TransientError, 5xx, timeout ──▶ pending again, later (one try counted)
                          │ PermanentError, or tries spent ──▶ failed (listed by `shuoshi outbox`)
                          └ the chat must wait too long, or we stop ──▶ pending, untried

Exactly once, as far as a platform allows. Only the sender holding a row's claim sends it, and
it marks the row sent in the statement right after the transport returns (autocommit: the mark
is durable when it returns), with no suspension point in between, so no other task of this
sender can run, or freeze, in that gap. What remains is the at-least-once window: if the
process dies while a request is on the wire, or after the platform took the message and before
the mark commits, the row is still "sending" and is sent again once its lease has passed (at
once when a sender restarts on the same host and sees the old process gone). Telegram and
WeChat offer no idempotency key, so this window cannot be closed from our side; it covers at
most `outbox_concurrency` messages, and only at a crash (with outbox_synchronous_commit off,
also at a crash of the database server). Leases compare the instances' clocks: keep them within
a few seconds of each other (NTP); the start window (see SenderConfig) leaves 45 s to spare.

Rate limits (scheduler/ratelimit.py) are kept per process: two instances on one PostgreSQL never
send the same row, but each counts only its own sends, so with N instances set the limits to
1/N of the platform's. Within one sender the rows of one chat go out one after another, in
order; across instances the order within a chat is best effort.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from handlers.clock import Clock
from ports.doors import (
    Limit,
    MergingTransport,
    PermanentError,
    PlatformLimits,
    TransientError,
    Transport,
)
from scheduler import ratelimit
from scheduler.ratelimit import ChatKey, RateLimiter
from storage.models import Outbox
from storage.outbox import (
    claim_due,
    claims_by_host,
    mark_failed,
    mark_retry,
    mark_sent_together,
    mark_wait,
    release,
    release_connection,
    sender_connection,
)

log = logging.getLogger(__name__)
MARK_BACKOFF = 5.0  # seconds between tries to record a sent message while the database is away
EXPIRED_LOOK = timedelta(seconds=5)  # how often a claim also looks for rows of dead senders

HOST = socket.gethostname()
# Claim owners of the senders alive in this process, so recovery at start never mistakes a
# sibling sender (same pid, other token) for a dead predecessor.
_LIVE_OWNERS: set[str] = set()


@dataclass(frozen=True)
class SenderConfig:
    """The sender's settings. Names and defaults are those of ports.settings.Settings, which
    `from_settings` copies; the comments there say what each one is for. What a platform
    allows is not here: each door declares its `PlatformLimits`, and the root hands them in."""

    outbox_max_tries: int = 8
    outbox_batch_size: int = 100
    outbox_concurrency: int = 8
    outbox_lease_seconds: float = 120.0
    outbox_send_timeout_seconds: float = 30.0
    outbox_poll_seconds: float = 1.0
    outbox_backoff_seconds: float = 2.0
    outbox_backoff_max_seconds: float = 600.0
    outbox_rate_margin_seconds: float = 0.05
    outbox_synchronous_commit: bool = True

    def __post_init__(self) -> None:
        if self.outbox_lease_seconds <= self.outbox_send_timeout_seconds:
            raise ValueError("outbox_lease_seconds must exceed outbox_send_timeout_seconds")
        if self.outbox_max_tries < 1 or self.outbox_batch_size < 1 or self.outbox_concurrency < 1:
            raise ValueError("outbox_max_tries, _batch_size and _concurrency must be ≥ 1")

    @classmethod
    def from_settings(cls, settings: object) -> SenderConfig:
        return cls(
            **{f.name: getattr(settings, f.name) for f in fields(cls) if hasattr(settings, f.name)}
        )

    @property
    def start_window(self) -> float:
        """How long after claiming a row its send may still start. A send then ends (or times
        out) well inside the lease, so no live sender ever has its claim taken over; rows the
        rate limits hold back longer are given back and claimed again when due."""
        return (self.outbox_lease_seconds - self.outbox_send_timeout_seconds) / 2


def rate_limits(
    limits: Mapping[str, PlatformLimits], margin: float
) -> dict[str, ratelimit.PlatformLimits]:
    """The platforms' declared limits as the rate limiter keeps them: each window widened by
    `margin` seconds, since jitter on the way (or a pause of this process) can bring two
    messages closer together at the platform than they were when they left."""

    def widened(windows: tuple[Limit, ...]) -> tuple[ratelimit.Limit, ...]:
        return tuple(ratelimit.Limit(w.count, w.per + margin) for w in windows)

    return {
        platform: ratelimit.PlatformLimits(
            overall=widened(declared.overall),
            chat=widened(declared.chat),
            group=widened(declared.group),
        )
        for platform, declared in limits.items()
    }


@dataclass
class SenderStats:
    sent: int = 0
    retried: int = 0  # failed tries that will be tried again
    failed: int = 0  # given up
    released: int = 0  # given back untried (rate limits, stopping)
    lost_claims: int = 0  # sent after our lease had been taken over (may be duplicates)
    merged: int = 0  # rows that went out inside another row's message (MergingTransport)


@dataclass
class _Claimed:
    row: Outbox
    start_by: float  # monotonic time by which its send must start


class Sender:
    """Delivers the outbox rows of the platforms in `transports`, each within the `limits` its
    door declared (none given: no limits). Built only by the root (bot/app.py), one per door
    and one for the platforms without a door of their own (the local web chat, scripts)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        transports: dict[str, Transport],
        *,
        config: SenderConfig | None = None,
        limits: Mapping[str, PlatformLimits] | None = None,
        limiter: RateLimiter | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        owner: str | None = None,
    ) -> None:
        config = config or SenderConfig()
        self.engine = engine
        self.clock = clock
        self.transports = transports
        self.config = config
        self.platform_limits: Mapping[str, PlatformLimits] = limits or {}
        self.limiter = limiter or RateLimiter(
            rate_limits(self.platform_limits, config.outbox_rate_margin_seconds), clock=monotonic
        )
        self.rng = rng or random.Random()
        self.monotonic = monotonic
        self.sleep = sleep
        self.owner = owner or f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"
        _LIVE_OWNERS.add(self.owner)
        self.stats = SenderStats()
        self._queues: dict[ChatKey, deque[_Claimed]] = {}
        self._workers: dict[ChatKey, asyncio.Task[None]] = {}
        # A chat whose row failed waits until then, so newer rows do not overtake the retry.
        self._held: dict[ChatKey, datetime] = {}
        self._claimed = 0  # rows claimed and not yet finished or given back
        self._expired_looked: datetime | None = None  # when dead senders' rows were last looked for
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._conn: Connection | None = None

    @property
    def max_tries(self) -> int:
        return self.config.outbox_max_tries

    def merge_max(self, platform: str) -> int:
        """How many queued rows of one chat may go out as one message (1: never merged), as
        the platform's door declared (Telegram's rows are not merged: their buttons and
        replies belong to one message each)."""
        declared = self.platform_limits.get(platform)
        return max(1, declared.merge_max) if declared is not None else 1

    # --- running --------------------------------------------------------------------------

    def wake(self) -> None:
        """New rows were queued: look now rather than at the next poll. Safe from any thread,
        and a no-op while the sender is not running."""
        loop, event = self._loop, self._wake
        if loop is None or event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    async def flush(self) -> int:
        """Send everything due now and return the number sent (scenario scripts, tests)."""
        return await self._pump(until_idle=True)

    async def run_forever(self) -> None:
        """Deliver until cancelled: claim what is due, wake at once on `wake()`, else every
        `outbox_poll_seconds`."""
        try:
            self.recover_orphans()
        except Exception:  # the database may be down at start; leases recover the rows
            log.exception("outbox: recovering rows of a stopped sender failed")
        await self._pump(until_idle=False)

    def recover_orphans(self) -> int:
        """Give back at once the rows that a dead sender on this host left "sending" (a crash
        or kill), instead of waiting for their leases; the number given back. Those messages
        may have reached their chat already: this is the at-least-once window."""
        with self._db() as db:
            owners = claims_by_host(db=db, host=HOST)
            dead = {owner: ids for owner, ids in owners.items() if not _alive(owner)}
            count = sum(
                release(db=db, outbox_ids=ids, owner=owner, not_before=None)
                for owner, ids in dead.items()
            )
        if count:
            log.warning(
                "outbox: %d messages were being sent when the last run stopped; sending them "
                "again (each may reach its chat twice)",
                count,
            )
        return count

    async def _pump(self, *, until_idle: bool) -> int:
        if self._loop is not None:
            raise RuntimeError("this sender is already running")
        self._loop = asyncio.get_running_loop()
        # Fresh per run: asyncio primitives belong to the loop that first waits on them, and
        # scenario scripts run each step in a loop of its own.
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(self.config.outbox_concurrency)
        self._stopping = False
        sent_before = self.stats.sent
        try:
            while True:
                self._wake.clear()
                try:
                    claimed = self._claim_more()
                except Exception:  # the database went away: keep what we hold, try again
                    if until_idle:
                        raise
                    log.exception("outbox: claiming rows failed")
                    claimed = 0
                if until_idle and not claimed and not self._workers:
                    return self.stats.sent - sent_before
                if claimed:
                    # Claim again at once: the claim took at most a few rows of each chat
                    # (per_chat), and the next one, leaving out the chats now busy, finds
                    # the other chats' rows. Workers run at the next await.
                    continue
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancel that lands as the event fires, and the sender would never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.config.outbox_poll_seconds):
                        await self._wake.wait()
        finally:
            await self._stop()

    async def _stop(self) -> None:
        # Rows not yet started go back now; sends on the wire get a moment to finish, so
        # their outcome is recorded and they are not sent again after a restart.
        self._stopping = True
        workers = list(self._workers.values())
        if workers:
            _, pending = await asyncio.wait(workers, timeout=self._grace())
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._loop = None
        self.close()

    @contextmanager
    def _db(self) -> Iterator[Connection]:
        """The sender's own connection, in autocommit mode. Every claim, mark and release is
        one statement, atomic by itself, so this saves a BEGIN and a COMMIT round trip, a
        pool checkout and an ORM session per row. A failed statement drops the connection;
        the next use opens a new one (the database may have restarted)."""
        if self._conn is None or self._conn.invalidated or self._conn.closed:
            self._conn = sender_connection(self.engine, async_commit=self._async_commit)
        try:
            yield self._conn
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Return the sender's connection to the pool (it is opened again when needed)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                release_connection(conn, async_commit=self._async_commit)

    @property
    def _async_commit(self) -> bool:
        return (
            not self.config.outbox_synchronous_commit and self.engine.dialect.name == "postgresql"
        )

    def _grace(self) -> float:
        # A send on the wire ends within its timeout, so this waits for every outcome
        # unless the timeout is long.
        return min(5.0, self.config.outbox_send_timeout_seconds + 0.1)

    def _claim_more(self) -> int:
        batch = self.config.outbox_batch_size
        # Claim again only when half the batch is done: one claim per row would double the
        # statements, and holding more than a batch would starve a second instance.
        if self._claimed > batch // 2 or not self.transports:
            return 0
        now = self.clock.now()
        self._held = {key: until for key, until in self._held.items() if until > now}
        # Chats we are busy with are left out: their next rows come when we are done, in
        # order, and a slow chat cannot fill the whole batch. (Chats waiting for a retry are
        # not: their new rows are given back to wait behind the retry, see _dispatch.)
        busy: dict[str, set[str]] = {}
        for platform, chat in self._queues:
            busy.setdefault(platform, set()).add(chat)
        # Rows of a sender that died come back only once its lease (minutes) has passed: one
        # look for them every few seconds finds them as soon, at half the statements per claim.
        expired = self._expired_looked is None or now - self._expired_looked >= EXPIRED_LOOK
        with self._db() as db:
            rows = claim_due(
                db=db,
                platforms=sorted(self.transports),
                owner=self.owner,
                now=now,
                lease=timedelta(seconds=self.config.outbox_lease_seconds),
                limit=batch - self._claimed,
                skip_chats=busy,
                include_expired=expired,
                per_chat=self._per_chat,
            )
        if expired:
            self._expired_looked = now
        self._claimed += len(rows)
        self._dispatch(rows)
        return len(rows)

    @property
    def _per_chat(self) -> int:
        """Rows of one chat held at a time. Where the platform limits each chat (Telegram: 1/s,
        20/min in a group; WeChat), a tenth of the batch: the chat could not send more soon, and
        the rest of the batch goes to other chats (bench/sender.py, Telegram's limits). Without
        such limits a chat sends its rows at once: a quarter, so a busy group costs a claim
        every 25 rows, not every 10 (bench/telegram.py: claims 0.2 → 0.09 ms per update)."""
        limits = self.limiter.limits
        slowed = any(
            (limit := limits.get(platform)) is not None and bool(limit.chat or limit.group)
            for platform in self.transports
        )
        return max(1, self.config.outbox_batch_size // (10 if slowed else 4))

    def _dispatch(self, rows: list[Outbox]) -> None:
        start_by = self.monotonic() + self.config.start_window
        per_chat = self._per_chat
        held_back: dict[datetime | None, list[int]] = {}
        for row in rows:
            key = (row.platform, row.chat)
            until = self._held.get(key)
            queue = self._queues.setdefault(key, deque())
            if until is not None or len(queue) >= per_chat:
                # A chat waiting for a retry keeps its order; one with plenty queued gives
                # the rest back at once (due as they were) so other chats get the slots.
                held_back.setdefault(until, []).append(row.id or 0)
                if not queue:
                    del self._queues[key]
                continue
            queue.append(_Claimed(row, start_by))
            if key not in self._workers:
                self._workers[key] = asyncio.create_task(self._work(key))
        for until, ids in held_back.items():
            self._give_back(ids, until)

    # --- one chat -------------------------------------------------------------------------

    async def _work(self, key: ChatKey) -> None:
        """Send one chat's rows in order; stop at a failure (the rest wait for the retry)."""
        queue = self._queues[key]
        try:
            while queue and not self._stopping:
                item = queue[0]
                if not await self._take_turn(item.row, item.start_by):
                    if self._stopping:
                        break
                    wait = self.limiter.wait_time(
                        item.row.platform, item.row.chat, group=not item.row.private
                    )
                    later = self.clock.now() + timedelta(seconds=wait)
                    self._held[key] = later
                    self._give_back([c.row.id or 0 for c in queue], later)
                    queue.clear()
                    break
                queue.popleft()
                rows = [item.row, *self._merged_with(item.row, queue)]
                try:
                    retry_at = await self._deliver(rows)
                finally:
                    assert self._slots is not None
                    self._slots.release()
                    self._finished(len(rows))
                if retry_at is not None:
                    self._held[key] = retry_at
                    self._give_back([c.row.id or 0 for c in queue], retry_at)
                    queue.clear()
        except Exception:  # the database failed mid-way: leases bring the rows back
            log.exception("outbox: sending to %s:%s stopped", *key)
        finally:
            if queue:
                try:
                    self._give_back([c.row.id or 0 for c in queue], None)
                except Exception:
                    log.exception("outbox: giving back rows for %s:%s failed", *key)
                queue.clear()
            del self._queues[key]
            del self._workers[key]
            if self._wake is not None:
                self._wake.set()

    async def _take_turn(self, row: Outbox, start_by: float) -> bool:
        """Wait for the rate limits and a free send slot; False when the row's start window
        passes first (or the sender stops). True means: a slot is held, the limits are
        charged, send now."""
        assert self._slots is not None
        group = not row.private
        while not self._stopping:
            wait = self.limiter.wait_time(row.platform, row.chat, group=group)
            if self.monotonic() + wait > start_by:
                return False
            if wait > 0:
                await self.sleep(wait)
                continue
            await self._slots.acquire()
            # Charged only now, with the slot in hand, so the platform sees the message at the
            # time the limiter counted it (a wait for a slot after charging would bunch sends).
            if self.limiter.try_acquire(row.platform, row.chat, group=group) == 0.0:
                return True
            self._slots.release()
        return False

    def _merged_with(self, first: Outbox, queue: deque[_Claimed]) -> list[Outbox]:
        """The rows queued behind `first` that go out in its message (taken off the queue):
        none unless the platform merges (PlatformLimits.merge_max, MergingTransport)."""
        most = self.merge_max(first.platform)
        transport = self.transports[first.platform]
        # Not isinstance(MergingTransport): a runtime Protocol check walks the protocol's
        # attributes every time, which showed per message.
        if most <= 1 or not queue or not hasattr(transport, "send_merged"):
            return []
        merging = cast(MergingTransport, transport)
        rows = [first]
        while queue and len(rows) < most and merging.can_merge([*rows, queue[0].row]):
            rows.append(queue.popleft().row)
        return rows[1:]

    async def _deliver(self, rows: list[Outbox]) -> datetime | None:
        """Send claimed rows of one chat as one message (usually one row) and record the
        outcome. Returns when the chat may be tried again if this try failed and will be
        retried, else None."""
        transport = self.transports[rows[0].platform]
        try:
            async with asyncio.timeout(self.config.outbox_send_timeout_seconds):
                if len(rows) == 1:
                    message_id = await transport.send(rows[0])
                else:
                    message_id = await cast(MergingTransport, transport).send_merged(rows)
        except PermanentError as exc:
            for row in rows:
                self._give_up(row, _describe(exc))
            return None
        except Exception as exc:  # 429, 5xx, timeouts, anything unknown: may pass
            return self._failed_try(rows, exc)
        ids = [row.id or 0 for row in rows]
        ours = await self._mark_sent(ids, str(message_id))
        self.stats.sent += len(ids)
        self.stats.merged += len(ids) - 1
        if ours < len(ids):
            self.stats.lost_claims += len(ids) - ours
            log.warning(
                "outbox %s sent after the lease was taken over; may arrive twice", _ids(rows)
            )
        return None

    async def _mark_sent(self, ids: list[int], message_id: str) -> int:
        """Record that these rows went out; how many were still ours. The message is out: if
        the database is away now, the mark waits for it (holding this send slot) rather than
        leaving the rows "sending" to go out again when their lease ends: a cut of the
        database sent every message of its moment twice (bench/faults.py). Only the process
        dying before the mark leaves the at-least-once window open."""
        delay = 0.2
        while True:
            try:
                with self._db() as db:
                    return mark_sent_together(
                        db=db,
                        outbox_ids=ids,
                        owner=self.owner,
                        now=self.clock.now(),
                        message_id=message_id,
                    )
            except (OperationalError, InterfaceError) as exc:
                if self._stopping:
                    raise
                log.warning(
                    "outbox %s sent; recording it waits for the database (%s)",
                    ",".join(map(str, ids)),
                    type(exc).__name__,
                )
                await self.sleep(delay)
                delay = min(delay * 2, MARK_BACKOFF)

    def _failed_try(self, rows: list[Outbox], exc: Exception) -> datetime | None:
        """A failed send of these rows (one message). They wait alike, so they come back in
        their order; a row out of tries is given up."""
        error = _describe(exc)
        retry_after = exc.retry_after if isinstance(exc, TransientError) else None
        if retry_after is not None:  # a rate limit: waited out, never counted toward giving up
            delay = max(0.0, float(retry_after))
            log.info("outbox %s: rate limited (%s); again in %.1fs", _ids(rows), error, delay)
            return self._later(rows, mark_wait, error, delay)
        retrying = []
        for row in rows:
            if row.tries + 1 >= self.config.outbox_max_tries:
                self._give_up(row, error)
            else:
                retrying.append(row)
        if not retrying:
            return None
        # The rows' not_before carries the wait, and the chat is held until then (see _work),
        # both on the app's clock, so scenario scripts see the retry at its simulated time.
        tries = max(row.tries for row in retrying) + 1
        delay = self.backoff(tries)
        log.info(
            "outbox %s: try %d failed (%s); again in %.1fs", _ids(retrying), tries, error, delay
        )
        return self._later(retrying, mark_retry, error, delay)

    def _later(
        self, rows: list[Outbox], mark: Callable[..., bool], error: str, delay: float
    ) -> datetime:
        """The rows pending again in `delay` seconds, all alike (mark_retry counts a try,
        mark_wait does not)."""
        not_before = self.clock.now() + timedelta(seconds=delay)
        with self._db() as db:
            for row in rows:
                mark(
                    db=db,
                    outbox_id=row.id or 0,
                    owner=self.owner,
                    not_before=not_before,
                    error=error,
                )
        self.stats.retried += len(rows)
        return not_before

    def backoff(self, tries: int) -> float:
        """Seconds before try number `tries` + 1: doubling from outbox_backoff_seconds up to
        the maximum, the upper half of it at random so a burst of failures spreads out."""
        cap = self.config.outbox_backoff_max_seconds
        delay = min(cap, self.config.outbox_backoff_seconds * 2 ** min(tries - 1, 62))
        return delay / 2 + self.rng.random() * delay / 2

    def _give_up(self, row: Outbox, error: str) -> None:
        assert row.id is not None
        log.warning("outbox %s to %s:%s failed for good: %s", row.id, row.platform, row.chat, error)
        with self._db() as db:
            mark_failed(db=db, outbox_id=row.id, owner=self.owner, error=error)
        self.stats.failed += 1

    def _give_back(self, ids: list[int], not_before: datetime | None) -> None:
        if not ids:
            return
        try:
            with self._db() as db:
                release(db=db, outbox_ids=ids, owner=self.owner, not_before=not_before)
            self.stats.released += len(ids)
        finally:
            # Ours no more either way: given back, or left to their lease if that failed.
            self._finished(len(ids))

    def _finished(self, count: int) -> None:
        # Wake the pump when the claimed rows drop to half a batch, so it claims the next
        # ones before the workers run dry.
        half = self.config.outbox_batch_size // 2
        was = self._claimed
        self._claimed -= count
        if was > half >= self._claimed and self._wake is not None:
            self._wake.set()


def _ids(rows: list[Outbox]) -> str:
    return ", ".join(str(row.id) for row in rows)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _alive(owner: str) -> bool:
    """Whether the sender that made this claim may still be running (on this host)."""
    if owner in _LIVE_OWNERS:
        return True
    try:
        pid = int(owner.rsplit(":", 2)[1])
    except (IndexError, ValueError):
        return True  # not ours to judge: wait for the lease
    if pid == os.getpid():
        return False  # an earlier life of this pid (pid 1 in a restarted container)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process now holds that pid
    return True
