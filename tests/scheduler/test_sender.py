"""The outbox sender against fake platforms, on SQLite and PostgreSQL: delivery, retries,
giving up, claims and leases, rate limits, waking. Time is the app's FakeClock (when rows fall
due) and, where limits matter, a virtual monotonic clock: nothing here sleeps for real beyond
milliseconds."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import subprocess
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from random import Random
from typing import Any, TypeVar

import pytest
from sqlmodel import Session, col, select

from bot import telegram, wechat
from bot.app import App
from bot.cli import main as shuoshi
from handlers.clock import FakeClock
from handlers.outbox import enqueue
from ports.doors import PermanentError, TransientError
from ports.settings import Settings
from scheduler.sender import HOST, Sender, SenderConfig
from storage import outbox as q
from storage.db import make_engine, session_scope
from storage.models import Outbox

T = TypeVar("T")


@dataclass
class FakePlatform:
    """Records what it is asked to send; `failures[row id]` are raised on its next tries."""

    platform: str = "fake"
    sent: list[int] = field(default_factory=list)
    failures: dict[int, list[Exception]] = field(default_factory=dict)
    calls: int = 0

    async def send(self, row: Outbox) -> str:
        self.calls += 1
        assert row.id is not None
        pending = self.failures.get(row.id)
        if pending:
            raise pending.pop(0)
        self.sent.append(row.id)
        return f"m{row.id}"


def queue(
    app: App,
    chats: list[str],
    per_chat: int = 1,
    *,
    platform: str = "fake",
    private: bool = True,
) -> list[int]:
    """Queue rows round-robin over the chats; their ids in queue order."""
    queued = []
    with session_scope(app.engine) as session:
        for i in range(per_chat):
            for chat in chats:
                outbox_id = enqueue(
                    session,
                    now=app.clock.now(),
                    platform=platform,
                    chat=chat,
                    text=f"第{i}条",
                    private=private,
                    recipient=chat,
                )
                assert outbox_id is not None
                queued.append(outbox_id)
    return queued


def rows(app: App) -> dict[int, Outbox]:
    with Session(app.engine) as session:
        return {r.id or 0: r for r in session.exec(select(Outbox).order_by(col(Outbox.id)))}


def make_sender(app: App, transport: FakePlatform, **config: Any) -> Sender:
    return Sender(
        app.engine, app.clock, {transport.platform: transport}, config=SenderConfig(**config)
    )


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def fake_clock(app: App) -> FakeClock:
    assert isinstance(app.clock, FakeClock)
    return app.clock


# --- delivery ------------------------------------------------------------------------------------


def test_every_row_is_sent_once_in_order_per_chat_and_marked(app: App) -> None:
    ids = queue(app, ["a", "b", "c", "d", "e"], per_chat=10)
    platform = FakePlatform()
    sender = make_sender(app, platform, outbox_batch_size=16, outbox_concurrency=3)

    assert run(sender.flush()) == 50
    assert sorted(platform.sent) == ids
    for chat in "abcde":
        mine = [i for i in platform.sent if rows(app)[i].chat == chat]
        assert mine == sorted(mine)  # a chat's messages keep their order
    now = app.clock.now()
    for row in rows(app).values():
        assert (row.status, row.tries, row.platform_message_id) == ("sent", 1, f"m{row.id}")
        assert row.sent_at == now
        assert row.claimed_until is None and row.claimed_by == sender.owner
    assert run(sender.flush()) == 0  # nothing twice


def test_a_sent_message_is_recorded_once_the_database_is_back_never_sent_twice(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database goes away between a send and its mark (issue 14, bench/faults.py): the
    mark waits for it instead of leaving the row "sending" to go out again later."""
    from sqlalchemy.exc import OperationalError

    import scheduler.sender

    ids = queue(app, ["a", "b"], per_chat=2)
    platform = FakePlatform()
    real = scheduler.sender.mark_sent_together
    outage = [OperationalError("UPDATE outbox", {}, Exception("server closed the connection"))] * 3

    def flaky(**kwargs: Any) -> int:
        if outage:
            raise outage.pop()
        return real(**kwargs)

    monkeypatch.setattr(scheduler.sender, "mark_sent_together", flaky)
    sender = make_sender(app, platform, outbox_concurrency=2)
    sender.sleep = lambda _: asyncio.sleep(0)  # type: ignore[method-assign]
    assert run(sender.flush()) == 4
    assert sorted(platform.sent) == ids and not outage
    assert {row.status for row in rows(app).values()} == {"sent"}
    fake_clock(app).advance(timedelta(hours=1))  # long past any lease: nothing goes again
    assert run(sender.flush()) == 0 and sorted(platform.sent) == ids


def test_rows_of_platforms_without_a_transport_wait(app: App) -> None:
    [other] = queue(app, ["x"], platform="wechat")
    [mine] = queue(app, ["y"])
    platform = FakePlatform()
    assert run(make_sender(app, platform).flush()) == 1
    assert platform.sent == [mine]
    assert rows(app)[other].status == "pending"


def test_a_429_waits_exactly_its_retry_after_then_delivers(app: App) -> None:
    [row_id] = queue(app, ["a"])
    platform = FakePlatform(failures={row_id: [TransientError("429 Too Many Requests", 7)]})
    sender = make_sender(app, platform)
    start = app.clock.now()

    assert run(sender.flush()) == 0
    row = rows(app)[row_id]
    assert (row.status, row.tries) == ("pending", 0)  # a rate limit is not a failed try
    assert row.not_before == start + timedelta(seconds=7)
    assert "429" in (row.last_error or "")

    fake_clock(app).advance(timedelta(seconds=6, milliseconds=999))
    assert run(sender.flush()) == 0
    fake_clock(app).advance(timedelta(milliseconds=1))
    assert run(sender.flush()) == 1
    row = rows(app)[row_id]
    assert (row.status, row.tries) == ("sent", 1)  # the delivery; the 429 was no try


def test_5xx_and_timeouts_back_off_exponentially_with_jitter(app: App) -> None:
    [row_id] = queue(app, ["a"])
    errors: list[Exception] = [RuntimeError("502 Bad Gateway"), TimeoutError(), OSError("reset")]
    platform = FakePlatform(failures={row_id: list(errors)})
    sender = make_sender(app, platform, outbox_backoff_seconds=2.0)
    delays = []
    for _ in errors:
        before = app.clock.now()
        assert run(sender.flush()) == 0
        row = rows(app)[row_id]
        delays.append((row.not_before - before).total_seconds())
        fake_clock(app).set(row.not_before)
    assert run(sender.flush()) == 1
    # 2, 4, 8 seconds, each between half and all of it.
    for delay, full in zip(delays, (2.0, 4.0, 8.0), strict=True):
        assert full / 2 <= delay <= full
    assert rows(app)[row_id].tries == 4


def test_backoff_is_capped_and_jittered() -> None:
    config = SenderConfig(outbox_backoff_seconds=2.0, outbox_backoff_max_seconds=60.0)
    sender = Sender(
        make_engine("sqlite://"), FakeClock(datetime(2026, 1, 1)), {}, config=config, rng=Random(1)
    )
    spread = {round(sender.backoff(3), 3) for _ in range(50)}
    assert len(spread) > 10 and min(spread) >= 4.0 and max(spread) <= 8.0
    assert all(30.0 <= sender.backoff(n) <= 60.0 for n in (6, 10, 100, 10_000))


def test_a_long_429_flood_never_makes_a_row_fail(app: App) -> None:
    [row_id] = queue(app, ["a"])
    flood = [TransientError("429 Too Many Requests", 3)] * 12
    platform = FakePlatform(failures={row_id: list(flood)})
    sender = make_sender(app, platform, outbox_max_tries=3)
    for _ in range(12):
        assert run(sender.flush()) == 0
        assert rows(app)[row_id].status == "pending"
        fake_clock(app).advance(timedelta(seconds=3))
    assert run(sender.flush()) == 1
    assert (rows(app)[row_id].status, platform.calls) == ("sent", 13)


def test_gives_up_after_max_tries_and_shuoshi_outbox_shows_it(
    app: App, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    [bad, good] = queue(app, ["a", "b"])
    platform = FakePlatform(failures={bad: [RuntimeError("503 Service Unavailable")] * 10})
    sender = make_sender(app, platform, outbox_max_tries=3)
    for _ in range(5):
        run(sender.flush())
        fake_clock(app).advance(timedelta(minutes=10))
    row = rows(app)[bad]
    assert (row.status, row.tries) == ("failed", 3)
    assert platform.calls == 4  # three tries of the bad one, one of the good one
    assert rows(app)[good].status == "sent"

    monkeypatch.setenv("DATABASE_URL", database_url)
    assert shuoshi(["outbox", "--failed"]) == 0
    out = capsys.readouterr().out
    assert "失败 1" in out and "已发 1" in out
    assert f"#{bad} 失败" in out and "503" in out and f"#{good} " not in out

    assert shuoshi(["outbox", "--retry", str(bad)]) == 0
    assert f"#{bad} 已重新排队" in capsys.readouterr().out
    assert (rows(app)[bad].status, rows(app)[bad].tries) == ("pending", 0)
    platform.failures.clear()
    assert run(sender.flush()) == 1
    assert rows(app)[bad].status == "sent"
    assert shuoshi(["outbox", "--retry", str(good)]) == 2  # not a failed row


def test_a_permanent_error_fails_at_once_and_the_chat_goes_on(app: App) -> None:
    first, second = queue(app, ["a"], per_chat=2)
    platform = FakePlatform(failures={first: [PermanentError("Forbidden: bot was blocked")]})
    assert run(make_sender(app, platform).flush()) == 1
    assert (rows(app)[first].status, rows(app)[first].tries) == ("failed", 1)
    assert "blocked" in (rows(app)[first].last_error or "")
    assert platform.sent == [second]


def test_a_retry_holds_its_chat_so_later_rows_do_not_overtake(app: App) -> None:
    ids = queue(app, ["a", "b"], per_chat=3)
    a_ids = ids[0::2]
    b_ids = ids[1::2]
    platform = FakePlatform(failures={a_ids[0]: [TransientError("429", 5)]})
    sender = make_sender(app, platform)
    assert run(sender.flush()) == 3
    assert platform.sent == b_ids
    held = rows(app)
    assert {held[i].status for i in a_ids} == {"pending"}
    assert {held[i].not_before for i in a_ids} == {app.clock.now() + timedelta(seconds=5)}
    assert [held[i].tries for i in a_ids] == [0, 0, 0]  # a 429 is no try; the rest untried
    # A row queued for the held chat meanwhile waits behind them.
    [late] = queue(app, ["a"])
    assert run(sender.flush()) == 0
    fake_clock(app).advance(timedelta(seconds=5))
    assert run(sender.flush()) == 4
    assert platform.sent[3:] == [*a_ids, late]


# --- claims and leases ---------------------------------------------------------------------------


def claim_as(app: App, owner: str, ids: list[int], lease: timedelta) -> None:
    with session_scope(app.engine) as session:
        for row_id in ids:
            row = session.get(Outbox, row_id)
            assert row is not None
            row.status, row.claimed_by = "sending", owner
            row.claimed_until = app.clock.now() + lease
            session.add(row)


def test_a_live_claim_is_left_alone_until_its_lease_passes(app: App) -> None:
    ids = queue(app, ["a", "b"])
    claim_as(app, "elsewhere:4242:cafe", ids[:1], timedelta(seconds=60))
    platform = FakePlatform()
    sender = make_sender(app, platform)
    assert sender.recover_orphans() == 0  # another host: only its lease tells
    assert run(sender.flush()) == 1
    assert platform.sent == ids[1:]
    fake_clock(app).advance(timedelta(seconds=61))
    assert run(sender.flush()) == 1
    assert platform.sent == [ids[1], ids[0]]
    assert rows(app)[ids[0]].claimed_by == sender.owner


def test_a_restart_takes_back_at_once_what_a_dead_sender_on_this_host_held(app: App) -> None:
    ids = queue(app, ["a", "b", "c"])
    dead_pid = _exited_pid()
    sibling = make_sender(app, FakePlatform())  # alive in this process: not an orphan
    claim_as(app, f"{HOST}:{dead_pid}:0bad", ids[:2], timedelta(minutes=5))
    claim_as(app, sibling.owner, ids[2:], timedelta(minutes=5))
    platform = FakePlatform()
    sender = make_sender(app, platform)
    assert sender.recover_orphans() == 2
    assert run(sender.flush()) == 2
    assert sorted(platform.sent) == ids[:2]
    assert rows(app)[ids[2]].status == "sending"


def _exited_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_claims_never_overlap_and_give_oldest_first(app: App) -> None:
    ids = queue(app, ["a", "b", "c", "d"], per_chat=5)
    lease = timedelta(seconds=30)
    with session_scope(app.engine) as s:
        first = q.claim_due(
            db=s, platforms=["fake"], owner="one", now=app.clock.now(), lease=lease, limit=8
        )
    with session_scope(app.engine) as s:
        second = q.claim_due(
            db=s, platforms=["fake"], owner="two", now=app.clock.now(), lease=lease, limit=100
        )
    assert [r.id for r in first] == ids[:8]
    assert [r.id for r in second] == ids[8:]
    with session_scope(app.engine) as s:
        # Only the owner may finish a claim.
        assert not q.mark_sent(
            db=s, outbox_id=ids[0], owner="two", now=app.clock.now(), message_id="x"
        )
        assert q.mark_sent(db=s, outbox_id=ids[0], owner="one", now=app.clock.now(), message_id="x")
        # Rows sent as one message: only those still ours are marked, and counted.
        together = [ids[1], ids[2], ids[8]]  # the last is "two"'s
        marked = q.mark_sent_together(
            db=s, outbox_ids=together, owner="one", now=app.clock.now(), message_id="y"
        )
        assert marked == 2
    after = rows(app)
    assert [after[i].platform_message_id for i in together] == ["y", "y", None]
    assert [after[i].status for i in together] == ["sent", "sent", "sending"]


def test_a_claim_takes_only_the_oldest_few_of_each_chat(app: App) -> None:
    long_queue = queue(app, ["a"], per_chat=12)
    other = queue(app, ["b"])
    with session_scope(app.engine) as s:
        claimed = q.claim_due(
            db=s,
            platforms=["fake"],
            owner="one",
            now=app.clock.now(),
            lease=timedelta(seconds=30),
            limit=100,
            per_chat=5,
        )
    assert [r.id for r in claimed] == long_queue[:5] + other
    assert {r.status for r in rows(app).values() if r.id in long_queue[5:]} == {"pending"}


def test_a_long_queue_for_one_chat_is_sent_in_order_without_giving_rows_back(app: App) -> None:
    ids = queue(app, ["a"], per_chat=45)
    platform = FakePlatform()
    sender = make_sender(app, platform, outbox_batch_size=20, outbox_concurrency=4)

    assert run(sender.flush()) == 45
    assert platform.sent == ids
    assert sender.stats.released == 0  # nothing claimed only to be handed back


# --- running -------------------------------------------------------------------------------------


async def until(condition: Callable[[], bool], limit: float = 10.0) -> None:
    """Wait (briefly polling) for a condition; fails the test past `limit` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.005)


def test_wake_sends_new_rows_at_once_and_the_poll_catches_the_rest(app: App) -> None:
    platform = FakePlatform()

    async def scenario() -> None:
        sleepy = make_sender(app, platform, outbox_poll_seconds=3600.0)
        task = asyncio.create_task(sleepy.run_forever())
        await asyncio.sleep(0.05)
        [first] = queue(app, ["a"])
        sleepy.wake()  # an adapter just handled a message
        await until(lambda: platform.sent == [first])
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

        polling = make_sender(app, platform, outbox_poll_seconds=0.02)
        task = asyncio.create_task(polling.run_forever())
        await asyncio.sleep(0.05)
        [second] = queue(app, ["b"])  # nobody wakes it
        await until(lambda: platform.sent == [first, second])
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    run(scenario())


def test_run_forever_rides_out_a_database_outage(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    import scheduler.sender as sender_module

    [row_id] = queue(app, ["a"])
    platform = FakePlatform()
    real_claim = sender_module.claim_due
    outages = [OSError("connection refused")] * 2

    def flaky_claim(**kwargs: Any) -> list[Outbox]:
        if outages:
            raise outages.pop()
        return real_claim(**kwargs)

    monkeypatch.setattr(sender_module, "claim_due", flaky_claim)

    async def scenario() -> None:
        sender = make_sender(app, platform, outbox_poll_seconds=0.01)
        task = asyncio.create_task(sender.run_forever())
        await until(lambda: platform.sent == [row_id])
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    run(scenario())
    assert not outages


def test_stopping_gives_back_rows_not_started(app: App) -> None:
    ids = queue(app, ["a"], per_chat=4)
    started = asyncio.Event()

    class Stuck(FakePlatform):
        async def send(self, row: Outbox) -> str:
            started.set()
            await asyncio.Event().wait()  # never answers
            return "never"

    async def scenario() -> None:
        sender = make_sender(
            app, Stuck(), outbox_send_timeout_seconds=0.2, outbox_lease_seconds=60.0
        )
        task = asyncio.create_task(sender.run_forever())
        await started.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    run(scenario())
    after = rows(app)
    # The one on the wire timed out (a try); the others were never tried.
    assert [(after[i].status, after[i].tries) for i in ids] == [
        ("pending", 1),
        ("pending", 0),
        ("pending", 0),
        ("pending", 0),
    ]
    assert "TimeoutError" in (after[ids[0]].last_error or "")


def test_the_sender_keeps_going_when_the_transport_misbehaves(app: App) -> None:
    ids = queue(app, ["a", "b"], per_chat=2)

    class Odd(FakePlatform):
        async def send(self, row: Outbox) -> str:
            if row.id == ids[0]:
                raise KeyError("a bug in an adapter")
            return await super().send(row)

    platform = Odd()
    assert run(make_sender(app, platform).flush()) == 2
    assert rows(app)[ids[0]].status == "pending"  # retried later, like any unknown failure


# --- rate limits, on virtual time ----------------------------------------------------------------


class VirtualTime:
    """A monotonic clock that jumps to the next sleeper whenever every task is waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), self._seq, future))
        await future

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        task = asyncio.ensure_future(coro)
        while not task.done():
            for _ in range(20):
                await asyncio.sleep(0)
            if task.done():
                break
            if not self._sleepers:
                await asyncio.sleep(0.001)  # the pump waits on its event
                continue
            when = self._sleepers[0][0]
            self.now = max(self.now, when)
            while self._sleepers and self._sleepers[0][0] <= self.now:
                heapq.heappop(self._sleepers)[2].set_result(None)
        return task.result()


@dataclass
class FakeTelegram(FakePlatform):
    """Answers 429 whenever a message would break Telegram's limits."""

    platform: str = "telegram"
    time: VirtualTime = field(default_factory=VirtualTime)
    log: list[tuple[float, str, bool]] = field(default_factory=list)
    refused: int = 0

    async def send(self, row: Outbox) -> str:
        now = self.time.now
        chat = [e for e in self.log if e[1] == row.chat]
        rules = [(self.log, 30, 1.0), (chat, 1, 1.0)]
        if not row.private:
            rules.append((chat, 20, 60.0))
        for events, count, per in rules:
            # In (now - per, now], give or take a nanosecond of float rounding.
            if sum(1 for e in events if e[0] > now - per + 1e-9) >= count:
                self.refused += 1
                raise TransientError("429 Too Many Requests", retry_after=1)
        self.log.append((now, row.chat, not row.private))
        return await super().send(row)


def most_in_window(times: list[float], per: float) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - per:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_telegram_limits_are_reached_and_never_broken(app: App) -> None:
    private = queue(app, [str(1000 + i) for i in range(60)], per_chat=3, platform="telegram")
    groups = queue(app, ["-1001", "-1002"], per_chat=25, platform="telegram", private=False)
    vt = VirtualTime()
    platform = FakeTelegram(time=vt)
    sender = Sender(
        app.engine,
        app.clock,
        {"telegram": platform},
        config=SenderConfig(outbox_batch_size=500, outbox_concurrency=16),
        limits={"telegram": telegram.send_limits(Settings())},  # Telegram's, as its door says
        monotonic=vt.monotonic,
        sleep=vt.sleep,
    )
    assert run(vt.run(sender.flush())) == 180 + 40
    # The groups' last five each wait for the next minute: given back, due later.
    waiting = [r for r in rows(app).values() if r.status == "pending"]
    assert len(waiting) == 10 and {r.chat for r in waiting} == {"-1001", "-1002"}
    assert all(r.tries == 0 and r.not_before > app.clock.now() for r in waiting)
    fake_clock(app).advance(timedelta(minutes=1))
    vt.now += 60.0
    assert run(vt.run(sender.flush())) == 10

    assert platform.refused == 0
    assert sorted(platform.sent) == sorted(private + groups)
    times = [t for t, _, _ in platform.log]
    assert most_in_window(times, 1.0) == 30  # reached, not exceeded
    for chat in ("-1001", "-1002"):
        group_times = [t for t, c, _ in platform.log if c == chat]
        assert most_in_window(group_times, 60.0) == 20
        assert most_in_window(group_times, 1.0) == 1
    # 180 private messages over 60 chats at 30/s overall: six seconds, not more.
    private_times = [t for t, c, g in platform.log if not g]
    assert max(private_times) - min(private_times) < 7.0


def sent_at_with_telegram_limits(app: App, *, batch: int) -> tuple[dict[int, float], FakeTelegram]:
    """Send everything due through a strict fake Telegram on virtual time: when each row went
    (seconds from the start), and the platform."""
    vt = VirtualTime()
    platform = FakeTelegram(time=vt)
    sender = Sender(
        app.engine,
        app.clock,
        {"telegram": platform},
        config=SenderConfig(outbox_batch_size=batch),
        limits={"telegram": telegram.send_limits(Settings())},
        monotonic=vt.monotonic,
        sleep=vt.sleep,
    )
    run(vt.run(sender.flush()))
    return {i: t for i, (t, _, _) in zip(platform.sent, platform.log, strict=True)}, platform


def test_a_chat_with_a_backlog_does_not_hold_up_the_others(app: App) -> None:
    backlog = queue(app, ["-5"], per_chat=30, platform="telegram", private=False)
    others = queue(app, [str(chat) for chat in range(1, 6)], platform="telegram")
    when, platform = sent_at_with_telegram_limits(app, batch=20)
    assert all(when[i] == 0.0 for i in others)  # at once, not after the group's backlog
    assert [i for i in platform.sent if i in backlog] == backlog  # the group, in order
    group_times = [t for t, chat, _ in platform.log if chat == "-5"]
    assert most_in_window(group_times, 60.0) == 20
    assert platform.refused == 0


def test_slow_groups_do_not_fill_the_batch_while_private_chats_wait(app: App) -> None:
    """Groups may send 20 messages a minute: rows they hold cannot go soon, so each holds a
    few, and the rest of the batch serves private chats at once."""
    for group in ("-1", "-2", "-3", "-4"):
        queue(app, [group], per_chat=10, platform="telegram", private=False)
    private = queue(app, [str(chat) for chat in range(1, 11)], platform="telegram")
    when, platform = sent_at_with_telegram_limits(app, batch=20)
    assert max(when[i] for i in private) < 1.0  # not after the groups' minutes
    assert platform.refused == 0


# --- merging (WeChat) ----------------------------------------------------------------------------


@dataclass
class FakeWechat(FakePlatform):
    """Merges rows as WeChat's transport does, under WeChat's limits on virtual time; rows whose
    text says 图 stand for pictures, which go alone."""

    platform: str = "wechat"
    time: VirtualTime = field(default_factory=VirtualTime)
    messages: list[tuple[float, str, list[int]]] = field(default_factory=list)

    def can_merge(self, rows: Sequence[Outbox]) -> bool:
        return not any("图" in row.text for row in rows)

    async def send(self, row: Outbox) -> str:
        return await self.send_merged([row])

    async def send_merged(self, rows: Sequence[Outbox]) -> str:
        self.calls += 1
        ids = [row.id or 0 for row in rows]
        pending = self.failures.get(ids[0])
        if pending:
            raise pending.pop(0)
        self.sent.extend(ids)
        self.messages.append((self.time.now, rows[0].chat, ids))
        return f"w{len(self.messages)}"


def wechat_sender(app: App, platform: FakeWechat, **settings: Any) -> Sender:
    """A sender under WeChat's limits as its door declares them (from these settings)."""
    return Sender(
        app.engine,
        app.clock,
        {"wechat": platform},
        limits={"wechat": wechat.send_limits(Settings(**settings))},
        monotonic=platform.time.monotonic,
        sleep=platform.time.sleep,
    )


def test_answers_waiting_for_one_room_go_out_together_within_wechats_limits(app: App) -> None:
    room = queue(app, ["r@chatroom"], per_chat=25, platform="wechat", private=False)
    alone = queue(app, ["wxid_a"], per_chat=2, platform="wechat")
    platform = FakeWechat()
    sender = wechat_sender(app, platform)  # 1 message/s per chat, 20/min per room, 10 merged

    assert run(platform.time.run(sender.flush())) == 27
    to_room = [(t, ids) for t, chat, ids in platform.messages if chat == "r@chatroom"]
    # 25 answers in three messages, one a second, in order: one by one, the room's limit
    # would have held the last five back for a minute.
    assert [ids for _, ids in to_room] == [room[:10], room[10:20], room[20:]]
    times = [t for t, _ in to_room]
    assert times[0] == 0.0 and all(1.0 <= b - a < 1.1 for a, b in itertools.pairwise(times))
    assert [ids for _, chat, ids in platform.messages if chat == "wxid_a"] == [alone]
    marked = rows(app)
    # Each row is marked sent with the id of the message it went in.
    per_message = [{marked[i].platform_message_id for i in ids} for _, ids in to_room]
    assert all(len(one) == 1 for one in per_message) and len(set().union(*per_message)) == 3
    assert {marked[i].status for i in room} == {"sent"}
    assert sender.stats.sent == 27 and sender.stats.merged == 27 - len(platform.messages)


def test_one_message_each_when_merging_is_off_or_a_row_cannot_merge(app: App) -> None:
    queue(app, ["r@chatroom"], per_chat=3, platform="wechat", private=False)
    platform = FakeWechat()
    run(platform.time.run(wechat_sender(app, platform, wechat_merge_max=1).flush()))
    assert [len(ids) for _, _, ids in platform.messages] == [1, 1, 1]

    with session_scope(app.engine) as session:
        for text in ("一", "二", "图", "三"):
            enqueue(
                session, now=app.clock.now(), platform="wechat", chat="r2", text=text, private=True
            )
    platform = FakeWechat()
    run(platform.time.run(wechat_sender(app, platform).flush()))
    texts = {row.id: row.text for row in rows(app).values()}
    # The picture goes alone and nothing overtakes it.
    assert [[texts[i] for i in ids] for _, _, ids in platform.messages] == [
        ["一", "二"],
        ["图"],
        ["三"],
    ]


def test_a_failed_merged_message_is_retried_for_every_row_in_it(app: App) -> None:
    ids = queue(app, ["r@chatroom"], per_chat=3, platform="wechat", private=False)
    platform = FakeWechat(failures={ids[0]: [RuntimeError("gateway hiccup")]})
    sender = wechat_sender(app, platform)
    assert run(platform.time.run(sender.flush())) == 0
    waiting = rows(app)
    assert {(waiting[i].status, waiting[i].tries) for i in ids} == {("pending", 1)}
    fake_clock(app).advance(timedelta(minutes=15))
    assert run(platform.time.run(sender.flush())) == 3
    assert platform.messages[-1][2] == ids and platform.calls == 2

    gone = queue(app, ["r3"], per_chat=2, platform="wechat")
    platform = FakeWechat(failures={gone[0]: [PermanentError("room dissolved")]})
    run(platform.time.run(wechat_sender(app, platform).flush()))
    assert {rows(app)[i].status for i in gone} == {"failed"}


# --- settings and queries ------------------------------------------------------------------------


def test_sender_config_defaults_are_the_settings_defaults() -> None:
    settings = Settings()
    config = SenderConfig.from_settings(settings)
    for f in fields(SenderConfig):
        assert getattr(SenderConfig(), f.name) == getattr(settings, f.name), f.name
    assert config == SenderConfig()
    assert SenderConfig().start_window < SenderConfig().outbox_lease_seconds
    with pytest.raises(ValueError):
        SenderConfig(outbox_lease_seconds=10, outbox_send_timeout_seconds=30)


def test_queries_for_the_admin(app: App) -> None:
    ids = queue(app, ["a", "b", "c"])
    platform = FakePlatform(failures={ids[0]: [PermanentError("chat not found")]})
    run(make_sender(app, platform).flush())
    queue(app, ["d"])
    with Session(app.engine) as s:
        assert q.count_by_status(session=s) == {"pending": 1, "sending": 0, "sent": 2, "failed": 1}
        assert [r.id for r in q.list_failed(session=s)] == [ids[0]]
        assert [r.chat for r in q.list_outbox(session=s)] == ["a", "d"]
        assert q.oldest_pending(session=s, platforms=["fake"]) == app.clock.now()


def test_an_issue_lists_its_unsent_messages(chat: Any) -> None:
    chat.say("张大爷: 村口路灯坏了好几天了")
    with session_scope(chat.app.engine) as s:
        about = s.exec(select(Outbox).where(col(Outbox.issue_id).is_not(None))).all()
        assert about and all(r.status == "sent" for r in about)
        issue_id = about[0].issue_id
        assert issue_id is not None
        assert q.unsent_for_issue(session=s, issue_id=issue_id) == []
        about[0].status = "failed"
        s.add(about[0])
    with Session(chat.app.engine) as s:
        assert [r.id for r in q.unsent_for_issue(session=s, issue_id=issue_id)] == [about[0].id]
