"""storage/lease.py: one holder at a time, takeover after expiry, a killed holder replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.db import make_engine
from storage.lease import acquire, hold, release, renew, state

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def test_acquire_renew_release(database_url: str) -> None:
    engine = make_engine(database_url)
    name = "wechat:127.0.0.1:8788"
    assert acquire(engine, name, "a", ttl=30, now=T0) == 1
    assert acquire(engine, name, "b", ttl=30, now=T0 + timedelta(seconds=10)) is None
    assert acquire(engine, name, "a", ttl=30, now=T0 + timedelta(seconds=10)) == 1  # keeps it
    assert renew(engine, name, "a", 1, ttl=30, now=T0 + timedelta(seconds=20))
    # Expired (20 + 30 s): b takes it, with a new epoch; a's renewal is refused from then on.
    assert acquire(engine, name, "b", ttl=30, now=T0 + timedelta(seconds=49)) is None
    assert acquire(engine, name, "b", ttl=30, now=T0 + timedelta(seconds=51)) == 2
    assert not renew(engine, name, "a", 1, ttl=30, now=T0 + timedelta(seconds=52))
    lease = state(engine, name)
    assert lease is not None and (lease.holder, lease.epoch) == ("b", 2)
    assert lease.expires_at == T0 + timedelta(seconds=81)
    # A release hands it over at once.
    assert not release(engine, name, "a")
    assert release(engine, name, "b")
    assert acquire(engine, name, "a", ttl=30, now=T0 + timedelta(seconds=53)) == 3
    # Leases are independent of each other.
    assert acquire(engine, "wechat:other:8788", "b", ttl=30, now=T0 + timedelta(seconds=53)) == 1
    engine.dispose()


def test_a_race_has_one_winner(database_url: str) -> None:
    engine = make_engine(database_url)
    wins: list[str] = []
    barrier = threading.Barrier(6)

    def contender(who: str) -> None:
        barrier.wait()
        if acquire(engine, "race", who, ttl=30) is not None:
            wins.append(who)

    threads = [threading.Thread(target=contender, args=(f"p{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    engine.dispose()


def test_hold_runs_work_only_while_held(database_url: str) -> None:
    engine = make_engine(database_url)
    running: list[str] = []
    log: list[tuple[str, bool]] = []

    async def scenario() -> None:
        def work(who: str):  # type: ignore[no-untyped-def]
            async def run() -> None:
                running.append(who)
                try:
                    await asyncio.sleep(3600)
                finally:
                    running.remove(who)

            return run

        a = asyncio.create_task(
            hold(
                engine,
                "duty",
                work("a"),
                holder="a",
                ttl=0.9,
                on_change=lambda held, _e: log.append(("a", held)),
            )
        )
        await asyncio.sleep(0.5)
        b = asyncio.create_task(hold(engine, "duty", work("b"), holder="b", ttl=0.9))
        await asyncio.sleep(0.8)
        assert running == ["a"]  # b stands by
        a.cancel()  # a clean stop releases: b takes over at its next try (ttl/3)
        await asyncio.gather(a, return_exceptions=True)
        await asyncio.sleep(0.6)
        assert running == ["b"]
        b.cancel()
        await asyncio.gather(b, return_exceptions=True)

    asyncio.run(scenario())
    assert running == [] and log == [("a", True), ("a", False)]
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # what scale-out runs on
def test_a_killed_holder_is_replaced(database_url: str, tmp_path: Path) -> None:
    """Two processes; SIGKILL the holder: the other takes the lease (a new epoch) within
    ttl + ttl/3, and the two never worked at the same time."""
    ttl = 1.5
    out = tmp_path / "work.log"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    procs = {}
    for who in ("one", "two"):
        procs[who] = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("lease_worker.py")),
                database_url,
                "wechat:gw",
                who,
                str(out),
                str(ttl),
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
    for proc in procs.values():
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not (out.exists() and out.read_text().strip()):
            time.sleep(0.05)
        time.sleep(0.5)
        first = out.read_text().split()[0]
        killed_at = time.time()
        procs[first].send_signal(signal.SIGKILL)
        procs[first].wait()
        other = "two" if first == "one" else "one"
        taken_at = None
        while time.time() < killed_at + ttl * 4:
            lines = [line.split() for line in out.read_text().splitlines()]
            later = [float(t) for who, _e, t in lines if who == other]
            if later:
                taken_at = min(later)
                break
            time.sleep(0.05)
        assert taken_at is not None, "the lease did not move"
        assert taken_at - killed_at <= ttl + ttl / 3 + 1.0
        lines = [line.split() for line in out.read_text().splitlines()]
        epochs = {who: {int(e) for w, e, _t in lines if w == who} for who in ("one", "two")}
        assert epochs[first] == {1} and epochs[other] == {2}
        last_first = max(float(t) for w, _e, t in lines if w == first)
        assert last_first < taken_at  # never both at once
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
