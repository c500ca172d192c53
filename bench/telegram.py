"""Telegram throughput through the fake Bot API server, in one run (issue 4).

- floor: a bare python-telegram-bot Application polling the fake server whose handler only
  replies (PTB's Updater, sequential, and with concurrent_updates(N) for comparison);
- full bot: the real door (bot/telegram.py) polling the same fake server, every update a group
  post that becomes an issue: inbox, decision, outbox, and the acknowledgment sent through the
  outbox sender, on a SQLite file (or --database-url).

Each run queues all updates at once and times from then until the last reply was sent.
Goal: full bot ≥ 0.5 × floor. The sender's rate limits are off (the floor has none either).
Run: .venv/bin/python bench/telegram.py [--updates 1000] [--rounds 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "1")
# Run as a script, this file's folder comes first on sys.path, where its own name would hide the
# `telegram` package: put the repository there instead (tests/ holds the fake server).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters  # noqa: E402

import bot.telegram  # noqa: E402
from bot.app import build, freeze_startup_objects, running, telegram_door  # noqa: E402
from handlers.intake import receive, receive_many  # noqa: E402
from ports.settings import DEMO_GRID, Settings  # noqa: E402
from storage.models import Issue  # noqa: E402
from tests.telegram.fake_bot_api import FakeBotApi  # noqa: E402

TOKEN = "123:ABC"
GROUP = -1001234567890  # 新联村说事群 in the demo grid
# "说事 …" registers a post whatever the classifier thinks (it still picks the kind), so every
# update becomes an issue however the shipped model scores these sentences.
MATTERS = [
    "说事 村口路灯坏了好几天了，晚上黑乎乎的",
    "说事 那段水渠塌了，过两天要放水灌溉了",
    "说事 桥栏杆断了，孩子上学很危险",
    "说事 下水道堵了，一下雨就淹",
    "说事 垃圾好几天没人清理了",
    "说事 村口那个井盖丢了",
    "说事 后山的水管爆了，好几户停水",
    "说事 小学门口的减速带坏了，车开得很快",
    "说事 电线杆歪了，看着要倒",
    "说事 路上有个大坑，电动车摔了好几回",
    "说事 河边的护栏被冲走了",
    "说事 晒谷场的围墙裂了",
]
# Each post names a 组 (1 … 99, classifier/places.py) and a matter: so many posts at most, each a
# matter of its own.
MAX_POSTS = 99 * len(MATTERS)
WARMUP = 50


@dataclass(frozen=True)
class Rate:
    wall: float  # updates/s
    cpu_ms: float  # CPU time of the process (bot and fake server) per update
    intake_ms: float = 0.0  # of which in handlers.intake.receive (the full bot only)


_FIELDS = ("wall", "cpu_ms", "intake_ms")
_intake_cpu = [0.0]


def _timed(decide: Callable[..., Any]) -> Callable[..., Any]:
    """`decide` (receive, receive_many) with its CPU time added to the intake's."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return decide(*args, **kwargs)
        finally:
            _intake_cpu[0] += time.thread_time() - start

    return timed


Run = Callable[[FakeBotApi, int], Awaitable[Rate]]


def spelled(n: int) -> str:
    """A 组 as people write it: 三, 十二, 四十五 (1 … 99)."""
    digits = "零一二三四五六七八九"
    tens, ones = divmod(n, 10)
    return (
        (digits[tens] if tens > 1 else "") + ("十" if tens else "") + (digits[ones] if ones else "")
    )


def post_all(server: FakeBotApi, n: int, offset: int) -> None:
    """Posts about different 组 (another 组 for each repeat of a text), so none is taken for a
    second report of an earlier one."""
    for i in range(n):
        k = offset + i
        group = spelled(k // len(MATTERS) + 1)
        matter = MATTERS[k % len(MATTERS)].replace("说事 ", f"说事 {group}组")
        server.post_text(GROUP, 20000 + k % 300, matter)


async def timed(server: FakeBotApi, n: int) -> Rate:
    """Warm up, then queue `n` posts at once; the time until the last reply was sent."""
    post_all(server, WARMUP, 0)
    await server.wait_for(lambda: len(server.sent) >= WARMUP, timeout=120)
    wall, cpu, intake = time.perf_counter(), time.process_time(), _intake_cpu[0]
    post_all(server, n, WARMUP)
    await server.wait_for(lambda: len(server.sent) >= WARMUP + n, timeout=600)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Rate(n / wall, cpu * 1000 / n, (_intake_cpu[0] - intake) * 1000 / n)


def floor(concurrency: int) -> Run:
    async def run(server: FakeBotApi, n: int) -> Rate:
        async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.message is not None
            await update.message.reply_text("收到")

        builder = ApplicationBuilder().token(TOKEN).base_url(server.base_url)
        if concurrency > 1:
            builder = builder.concurrent_updates(concurrency)
        app = builder.build()
        app.add_handler(MessageHandler(filters.TEXT, reply))
        async with app:
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=timedelta(seconds=5))
            await app.start()
            rate = await timed(server, n)
            await app.updater.stop()
            await app.stop()
        return rate

    return run


def full_bot(database_url: str | None, db_in_thread: bool | None = None) -> Run:
    async def run(server: FakeBotApi, n: int) -> Rate:
        with tempfile.TemporaryDirectory() as tmp:
            url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
            if database_url:
                reset(database_url)
            settings = Settings(
                grid_file=DEMO_GRID,
                database_url=url,
                data_dir=Path(tmp) / "data",
                telegram_bot_token=TOKEN,
                telegram_base_url=server.base_url,
                telegram_max_per_second=0,
                telegram_chat_max_per_second=0,
                telegram_group_max_per_minute=0,
            )
            app = build(settings, database_url=url)
            bot.telegram.receive = _timed(receive)  # type: ignore[assignment]
            bot.telegram.receive_many = _timed(receive_many)  # type: ignore[assignment]
            try:
                async with running(app, telegram_door(app)) as door:
                    if db_in_thread is not None:
                        door.db.in_thread = db_in_thread  # ports.doors.DatabaseWork
                    await asyncio.wait_for(door.connected.wait(), 10)
                    freeze_startup_objects()  # as `shuoshi run` does once it is built
                    rate = await timed(server, n)
                with Session(app.engine) as session:
                    issues = session.exec(select(func.count()).select_from(Issue)).one()
                assert issues == WARMUP + n, f"{issues} issues for {WARMUP + n} posts"
            finally:
                bot.telegram.receive = receive  # type: ignore[assignment]
                bot.telegram.receive_many = receive_many  # type: ignore[assignment]
                app.engine.dispose()
        return rate

    return run


def reset(url: str) -> None:
    """An empty, migrated PostgreSQL database for one run."""
    from sqlmodel import SQLModel

    from storage.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    tables = [t.name for t in SQLModel.metadata.sorted_tables]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


async def once(run: Run, n: int) -> Rate:
    async with FakeBotApi() as server:
        return await run(server, n)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="PostgreSQL to run the full bot on")
    args = parser.parse_args()
    if not 0 < args.updates <= MAX_POSTS - WARMUP:
        parser.error(f"--updates must be 1 … {MAX_POSTS - WARMUP}")
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # long polls cut at stop
    url = args.database_url
    floor_name = "floor: bare PTB, sequential"
    bot_name = "full bot, database work on the event loop"  # the door's choice
    runs: list[tuple[str, Run]] = [
        (floor_name, floor(1)),
        ("floor: bare PTB, concurrent_updates(4)", floor(4)),
        ("floor: bare PTB, concurrent_updates(16)", floor(16)),
        ("full bot, database work on the event loop", full_bot(url, db_in_thread=False)),
        ("full bot, database work in a thread", full_bot(url, db_in_thread=True)),
    ]
    # Rounds interleave the variants, so a busy moment of a shared machine hits them alike.
    rates: dict[str, list[Rate]] = {name: [] for name, _ in runs}
    for _ in range(args.rounds):
        for name, run in runs:
            rates[name].append(await once(run, args.updates))
    print(f"{args.updates} updates per run, median of {args.rounds} rounds; CPU ms per update")
    results: dict[str, Rate] = {}
    for name, _ in runs:
        got = rates[name]
        results[name] = Rate(*(statistics.median(getattr(r, f) for r in got) for f in _FIELDS))
        shown = ", ".join(f"{r.wall:.0f}" for r in got)
        line = f"  {name:42s} {results[name].wall:6.0f} updates/s ({shown})"
        line += f"  {results[name].cpu_ms:5.2f} ms"
        if results[name].intake_ms:
            line += f" (intake {results[name].intake_ms:.2f} ms)"
        print(line)
    ratio = results[bot_name].wall / results[floor_name].wall
    cpu_ratio = results[floor_name].cpu_ms / results[bot_name].cpu_ms
    verdict = "meets" if ratio >= 0.5 else "misses"
    print(f"{bot_name} / floor = {ratio:.2f} ({verdict} the goal of ≥ 0.5); by CPU {cpu_ratio:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
