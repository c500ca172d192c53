"""Outbox sender throughput (issue 3), in two parts.

1. No limits: rows/s through `Sender.flush()` against a fake platform that answers at once,
   on a SQLite file and on PostgreSQL. What is measured is the sender's own cost per row:
   claiming, the transport call, marking sent. Goal ≥ 500 rows/s.
2. Telegram's limits: `Sender.run_forever()` (the loop `shuoshi run` uses) with the default
   settings, against a fake Telegram that answers 429 whenever a message breaks one of its
   limits (30/s overall, 1/s per chat, 20/min per group, counted over sliding windows on
   arrival, to the letter). Goal: the limits are reached, and no 429. The sender keeps its
   default margin (outbox_rate_margin_seconds) against jitter between it and the platform.

Run: .venv/bin/python bench/sender.py [--rows 5000] [--skip-limits] [--pg-url URL]
PostgreSQL: a scratch database is created on the server of --pg-url and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from bot.telegram import send_limits  # noqa: E402
from handlers.clock import FakeClock, SystemClock  # noqa: E402
from ports.doors import TransientError  # noqa: E402
from ports.settings import Settings  # noqa: E402
from scheduler.sender import Sender, SenderConfig  # noqa: E402
from storage.db import make_engine, upgrade  # noqa: E402
from storage.models import Outbox  # noqa: E402

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
AT = datetime(2026, 11, 23, 9, 0)


@contextmanager
def database(kind: str, pg_url: str) -> Iterator[Engine]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            upgrade(engine)
            yield engine
            engine.dispose()
        return
    name = f"shuoshi_bench_sender_{os.getpid()}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        engine = make_engine(make_url(pg_url).set(database=name).render_as_string(False))
        upgrade(engine)
        yield engine
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fill(engine: Engine, rows: list[dict[str, object]]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Outbox.__table__), rows)  # type: ignore[attr-defined]


def row(platform: str, chat: str, private: bool, at: datetime, n: int) -> dict[str, object]:
    return {
        "platform": platform,
        "chat": chat,
        "private": private,
        "recipient": chat,
        "text": f"#{n} 路灯已修好，请评价",
        "buttons": "[]",
        "category": "notice",
        "created_at": at,
        "not_before": at,
        "status": "pending",
        "tries": 0,
    }


class Instant:
    platform = "fake"

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, row: Outbox) -> str:
        self.sent += 1
        return f"m{row.id}"


def no_limits(kind: str, rows: int, pg_url: str, durable: bool = True) -> tuple[float, float]:
    clock = FakeClock(AT)
    with database(kind, pg_url) as engine:
        fill(engine, [row("fake", f"c{i % 200}", True, clock.now(), i) for i in range(rows)])
        platform = Instant()
        config = SenderConfig(outbox_synchronous_commit=durable)
        sender = Sender(engine, clock, {"fake": platform}, config=config)
        start, cpu = time.perf_counter(), time.process_time()
        sent = asyncio.run(sender.flush())
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert sent == rows == platform.sent, (sent, platform.sent)
    return rows / elapsed, cpu / rows * 1000


class StrictTelegram:
    """Counts arrivals per sliding window and refuses (429) what would break a limit."""

    platform = "telegram"

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str, bool]] = []
        self.refused = 0
        self.overall: deque[float] = deque()
        self.per_chat: dict[str, deque[float]] = {}

    async def send(self, row: Outbox) -> str:
        now = time.monotonic()
        group = not row.private
        mine = self.per_chat.setdefault(row.chat, deque())
        while self.overall and self.overall[0] <= now - 1.0:
            self.overall.popleft()
        if (
            len(self.overall) >= 30
            or sum(1 for t in mine if t > now - 1.0) >= 1
            or (group and sum(1 for t in mine if t > now - 60.0) >= 20)
        ):
            self.refused += 1
            raise TransientError("429 Too Many Requests: retry after 1", retry_after=1)
        self.overall.append(now)
        mine.append(now)
        self.arrivals.append((now, row.chat, group))
        return f"m{row.id}"


def most_in(times: list[float], per: float) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - per:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def telegram_limits(kind: str, pg_url: str, private_chats: int, groups: int) -> dict[str, float]:
    clock = SystemClock()
    with database(kind, pg_url) as engine:
        # The groups' rows first, so their minute limit shows within the run.
        rows = [
            row("telegram", str(-1_000_000 - g), False, clock.now(), n)
            for n in range(25)
            for g in range(groups)
        ]
        rows += [
            row("telegram", str(10_000 + c), True, clock.now(), n)
            for n in range(3)
            for c in range(private_chats)
        ]
        fill(engine, rows)
        platform = StrictTelegram()
        sender = Sender(
            engine,
            clock,
            {"telegram": platform},
            config=SenderConfig(),
            limits={"telegram": send_limits(Settings())},
        )

        async def go() -> float:
            task = asyncio.create_task(sender.run_forever())
            start = time.monotonic()
            while len(platform.arrivals) < len(rows):
                await asyncio.sleep(0.05)
                if time.monotonic() - start > 300:
                    break
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return time.monotonic() - start

        elapsed = asyncio.run(go())
    times = [t for t, _, _ in platform.arrivals]
    first = min(times)
    private_times = [t for t, _, g in platform.arrivals if not g]
    group_max_minute = max(
        most_in([t for t, c, g in platform.arrivals if g and c == chat], 60.0)
        for chat in {c for _, c, g in platform.arrivals if g}
    )
    chat_max_second = max(
        most_in([t for t, c, _ in platform.arrivals if c == chat], 1.0)
        for chat in {c for _, c, _ in platform.arrivals}
    )
    burst = [t for t in times if t < first + 10.0]
    return {
        "messages": len(rows),
        "delivered": len(platform.arrivals),
        "refused_429": platform.refused,
        "seconds": elapsed,
        "first_10s_rate": len(burst) / 10.0,
        "max_any_second": most_in(times, 1.0),
        "max_group_any_minute": group_max_minute,
        "max_chat_any_second": chat_max_second,
        "private_span_s": max(private_times) - min(private_times),
        "last_group_at_s": max(t for t, _, g in platform.arrivals if g) - first,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-limits", action="store_true")
    parser.add_argument("--private-chats", type=int, default=300)
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    backends = args.backends.split(",")

    print(f"## no limits: {args.rows} rows over 200 chats, instant fake platform")
    variants = [(kind, True) for kind in backends]
    if "postgresql" in backends:
        variants.append(("postgresql", False))
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)")
    for kind, durable in variants:
        runs = [no_limits(kind, args.rows, args.pg_url, durable) for _ in range(args.rounds)]
        rates = sorted(rate for rate, _ in runs)
        cpu = sorted(ms for _, ms in runs)[len(runs) // 2]
        label = kind if durable else f"{kind}, outbox_synchronous_commit=false"
        print(
            f"{label}: median {rates[len(rates) // 2]:,.0f} rows/s "
            f"(runs: {', '.join(f'{r:,.0f}' for r, _ in runs)}); "
            f"sender CPU {cpu:.2f} ms/row"
        )
    if args.skip_limits:
        return
    print(
        f"\n## Telegram limits: {args.private_chats} private chats × 3 + "
        f"{args.groups} groups × 25, strict fake Telegram"
    )
    for kind in backends:
        figures = telegram_limits(kind, args.pg_url, args.private_chats, args.groups)
        print(f"{kind}: " + ", ".join(f"{k} {v:,.1f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
