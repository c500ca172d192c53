"""Faults, long form (issue 14): the short tests of tests/ops/test_faults.py and
tests/ops/test_scale_out.py, several cycles each, with a steady stream of Telegram posts through
the webhook route of a real `shuoshi run` (tests/ops/cluster.py plays Telegram: a POST that is
refused or answered 5xx is delivered again with backoff, and a tenth of the updates are
delivered a second time a moment after their 200, as Telegram does when it did not see it).

- away (PostgreSQL): the instance reaches the database through the TCP relay of the short test;
  each cycle cuts it (every connection dropped, new ones refused) for 2-10 s, then restores it.
- disk (SQLite): each cycle the database file may not grow for 2-10 s (`PRAGMA max_page_count`
  set to the file's size at every connection checkout, what SQLite answers on a full disk:
  "database or disk is full"), as the short test does; in the `shuoshi run` process by a
  `sitecustomize` hook that watches a flag file.
- kill (SQLite and PostgreSQL): each cycle SIGKILLs the instance at a random moment of the
  stream; it is started again at once, as systemd would.

Posts keep arriving during and between the faults. Afterwards, until everything settles:
every post must be recorded once and decided, every matter registered once and acknowledged
once. The instance's own inbox-retry job (every 5 s, backoff 10 s, 1 min, …) and sender do the
healing, on the real clock. Per fault: cycles, posts offered, recorded, matters registered,
acknowledgments missing and doubled, inbox tries (sum of Inbound.tries), messages set aside
(inbox status "failed"), "nothing lost", time taken.

Run:  .venv/bin/python bench/faults.py [--cycles 5] [--posts 300] [--only away disk kill-sqlite
      kill-postgresql] [--json] [--logs DIR]
Default: 4 runs of 300 posts, about 5 minutes. Needs PostgreSQL at 127.0.0.1:5432 (user
postgres, trust; TEST_DATABASE_URL to change); a fresh database is created and dropped for each
PostgreSQL run. Not part of `make test`. Exit status 1 when anything was lost or doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path, where bench/telegram.py would hide
# the `telegram` package (tests.ops.test_faults imports bot.telegram): the repository instead.
sys.path[0] = str(ROOT)

import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session, col  # noqa: E402

from storage.db import make_engine  # noqa: E402
from storage.models import Inbound, Issue, Outbox  # noqa: E402
from tests.ops.cluster import Cluster, Post, make_posts  # noqa: E402
from tests.ops.test_faults import Relay  # noqa: E402
from tests.ops.test_scale_out import ENV, LOST_CLAIM, deadlocks, tries_by_reply  # noqa: E402
from tests.ops.util import fresh_pg_database  # noqa: E402

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RUNS = ("away", "disk", "kill-sqlite", "kill-postgresql")
FLAG_ENV = "SHUOSHI_BENCH_FULL_DISK_FLAG"

# Loaded by the `shuoshi run` process (PYTHONPATH): the short test's full-disk listener, switched
# by a flag file instead of a variable of the test's process.
FULL_DISK_HOOK = f'''"""bench/faults.py: a full disk for SQLite while the flag file exists."""
import os

from sqlalchemy import event
from sqlalchemy.pool import Pool

_FLAG = os.environ.get("{FLAG_ENV}")

if _FLAG:

    @event.listens_for(Pool, "checkout")
    def _disk(dbapi_conn, *_):
        if type(dbapi_conn).__module__ != "sqlite3":
            return
        cur = dbapi_conn.cursor()
        if os.path.exists(_FLAG):  # not one page more than the file has now
            pages = cur.execute("PRAGMA page_count").fetchone()[0]
            cur.execute(f"PRAGMA max_page_count={{int(pages)}}")
        else:
            cur.execute("PRAGMA max_page_count=1073741823")
        cur.close()
'''

# Log lines worth counting.
LOG_MARKS = {
    "webhook_not_recorded": r"could not record update",
    "handling_failed": r"handling message \S+ failed",
    "inbox_retry_failed": r"handling inbox message \d+ failed",
    "inbox_set_aside": r"set aside after",
    "sender_stopped": r"outbox: sending to \S+ stopped",  # a claim or a mark failed mid-way
    "resent_after_restart": r"were being sent when the last run stopped",  # lines
    "lost_claim": re.escape(LOST_CLAIM),
}


@dataclass
class Stream:
    """The posts as Telegram offers them: open loop at `rate` per second."""

    posts: list[Post]
    rate: float
    redeliver: float
    rng: random.Random
    offered: int = 0  # posts whose first delivery has started
    redelivered: int = 0
    undelivered: list[int] = field(default_factory=list)
    took: float = 0.0


async def run_stream(cluster: Cluster, stream: Stream, concurrency: int = 16) -> None:
    slots = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(30.0, connect=2.0)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:

        async def one(post: Post, k: int) -> None:
            try:
                async with slots:
                    await cluster.deliver(client, post, prefer=k)
                if stream.rng.random() < stream.redeliver:
                    # Telegram did not see the 200: the same update again, a moment later.
                    await asyncio.sleep(stream.rng.uniform(0.0, 3.0))
                    stream.redelivered += 1
                    async with slots:
                        await cluster.deliver(client, post, prefer=k + 1)
            except (TimeoutError, AssertionError) as exc:
                print(f"post {post.n} not delivered: {exc}", file=sys.stderr)
                stream.undelivered.append(post.n)

        began = time.monotonic()
        tasks = []
        for k, post in enumerate(stream.posts):
            await asyncio.sleep(max(0.0, began + k / stream.rate - time.monotonic()))
            stream.offered = k + 1
            tasks.append(asyncio.create_task(one(post, k)))
        await asyncio.gather(*tasks)
        stream.took = time.monotonic() - began


async def probe_ready(cluster: Cluster) -> bool | None:
    """Whether the live instance says it is ready (/readyz); None when it does not answer."""
    live = [i for i in cluster.instances if i.alive]
    if not live:
        return None
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(f"{live[0].url}/readyz")
    except httpx.HTTPError:
        return None
    return response.status_code == 200


@dataclass
class Faults:
    """What the fault driver did."""

    cycles: int = 0
    seconds: list[float] = field(default_factory=list)  # each fault's length (kill: to healthy)
    ready_during: list[bool | None] = field(default_factory=list)


def windows(rng: random.Random, cycles: int, low: float, high: float) -> list[tuple[float, float]]:
    """(pause before, length) of each fault."""
    return [(rng.uniform(2.0, 6.0), rng.uniform(low, high)) for _ in range(cycles)]


async def timed_faults(
    cluster: Cluster,
    plan: list[tuple[float, float]],
    start: Callable[[], None],
    end: Callable[[], None],
    faults: Faults,
) -> None:
    """Each fault in turn: wait, start it, ask /readyz near its end, end it."""
    for pause, length in plan:
        await asyncio.sleep(pause)
        began = time.monotonic()
        start()
        await asyncio.sleep(max(0.0, length - 1.5))
        faults.ready_during.append(await probe_ready(cluster))
        await asyncio.sleep(max(0.0, began + length - time.monotonic()))
        end()
        faults.seconds.append(time.monotonic() - began)
        faults.cycles += 1


async def kills(cluster: Cluster, stream: Stream, at: list[int], faults: Faults) -> None:
    """SIGKILL the instance once post `k` of `at` has been offered (and the previous restart is
    over); start a new one at once, as systemd would."""
    for k in at:
        while stream.offered < k:
            await asyncio.sleep(0.02)
        began = time.monotonic()
        for victim in [i for i in cluster.instances if i.alive]:
            await asyncio.to_thread(cluster.kill, victim)
        await asyncio.to_thread(cluster.start, 1)
        faults.seconds.append(time.monotonic() - began)
        faults.cycles += 1


def kill_points(rng: random.Random, cycles: int, posts: int) -> list[int]:
    """One random post index in each of `cycles` equal slots of the stream's first 90 %."""
    slot = 0.9 * posts / cycles
    return [max(1, int(slot * (c + rng.uniform(0.1, 0.9)))) for c in range(cycles)]


def database_state(url: str, posts: list[Post]) -> dict[str, Any]:
    """What the database holds about the stream's posts."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(
                    col(Inbound.chat),
                    col(Inbound.message_id),
                    col(Inbound.status),
                    col(Inbound.tries),
                    col(Inbound.issue_id),
                ).where(col(Inbound.platform) == "telegram")
            ).all()
            issues = int(session.execute(select(func.count()).select_from(Issue)).scalar_one())
            outbox = {
                str(k): int(v)
                for k, v in session.execute(
                    select(col(Outbox.status), func.count()).group_by(col(Outbox.status))
                ).all()
            }
    finally:
        engine.dispose()
    by_key: dict[tuple[int, int], list[tuple[str, int, int | None]]] = {}
    for chat, message_id, status, tries, issue_id in rows:
        if str(message_id).isdigit():
            by_key.setdefault((int(chat), int(message_id)), []).append(
                (str(status), int(tries), issue_id)
            )
    offered = {(p.chat, p.message_id): p for p in posts}
    recorded = [k for k in offered if k in by_key]
    matters = [p for p in posts if p.matter]
    registered = {
        by_key[(p.chat, p.message_id)][0][2]
        for p in matters
        if (p.chat, p.message_id) in by_key and by_key[(p.chat, p.message_id)][0][2] is not None
    }
    statuses = [s for k in recorded for s, _t, _i in by_key[k]]
    return {
        "recorded": len(recorded),
        "recorded_twice": sum(len(by_key[k]) > 1 for k in recorded),
        "registered": len(registered),
        "issues": issues,
        "unhandled": statuses.count("new"),
        "set_aside": statuses.count("failed"),
        "inbox_tries": sum(t for k in recorded for _s, t, _i in by_key[k]),
        "inbox_retried": sum(t > 0 for k in recorded for _s, t, _i in by_key[k]),
        "outbox": outbox,
    }


def settle(cluster: Cluster, url: str, stream: Stream, timeout: float) -> dict[str, Any]:
    """Wait until every post is recorded and handled, every matter acknowledged and the outbox
    has nothing left to send (or the time is up); the database's state then."""
    want = {(p.chat, p.message_id) for p in stream.posts if p.matter}
    deadline = time.monotonic() + timeout
    while True:
        state = database_state(url, stream.posts)
        acks = cluster.ack_counts()
        done = (
            state["recorded"] == len(stream.posts)
            and not state["unhandled"]
            and want <= set(acks.replies)
            and not set(state["outbox"]) - {"sent", "failed"}
        )
        if done or time.monotonic() > deadline:
            return state
        time.sleep(1.0)


@contextlib.contextmanager
def database(backend: str, root: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{root / 'shuoshi.db'}"
    else:
        with fresh_pg_database(PG_URL) as url:
            yield url


def run_one(name: str, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    backend = {"away": "postgresql", "disk": "sqlite"}.get(name) or name.split("-", 1)[1]
    rng = random.Random(seed)
    began = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix=f"shuoshi-faults-{name}-") as tmp,
        database(backend, Path(tmp)) as url,
    ):
        root = Path(tmp)
        env = dict(ENV)
        relay: Relay | None = None
        instance_url = url
        if name == "away":
            parts = make_url(url)
            relay = Relay(parts.host or "127.0.0.1", parts.port or 5432)
            instance_url = parts.set(host="127.0.0.1", port=relay.port).render_as_string(
                hide_password=False
            )
        flag = root / "disk-full"
        if name == "disk":
            hooks = root / "hooks"
            hooks.mkdir()
            (hooks / "sitecustomize.py").write_text(FULL_DISK_HOOK, encoding="utf-8")
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(hooks), os.environ.get("PYTHONPATH", "")) if p
            )
            env[FLAG_ENV] = str(flag)
        cluster = Cluster(root, instance_url, groups=20, villages=4, env=env)
        faults = Faults()
        try:
            cluster.prepare()
            started = time.monotonic()
            cluster.start(1)
            startup = time.monotonic() - started
            posts = make_posts(args.posts, cluster.groups, matter_share=args.matters, seed=seed)
            fault: Callable[[Stream], Awaitable[None]]
            if name.startswith("kill"):
                # Long enough that each restart (about `startup`) ends well before the next kill.
                length = args.cycles * (startup + 6.0) + 5.0
                at = kill_points(rng, args.cycles, len(posts))

                def fault(stream: Stream) -> Awaitable[None]:
                    return kills(cluster, stream, at, faults)

            else:
                plan = windows(rng, args.cycles, args.min_fault, args.max_fault)
                length = sum(p + n for p, n in plan) + 3.0
                if relay is not None:
                    start, end = relay.cut, relay.restore
                else:
                    start, end = flag.touch, lambda: flag.unlink(missing_ok=True)

                def fault(stream: Stream) -> Awaitable[None]:
                    return timed_faults(cluster, plan, start, end, faults)

            stream = Stream(posts, len(posts) / length, args.redeliver, random.Random(seed + 1))
            print(
                f"{name}: {len(posts)} posts at {stream.rate:.1f}/s, {args.cycles} faults …",
                file=sys.stderr,
            )

            async def both() -> None:
                await asyncio.gather(run_stream(cluster, stream), fault(stream))

            asyncio.run(both())
            settling = time.monotonic()
            state = settle(cluster, url, stream, args.settle)
            settled = time.monotonic() - settling
            ready_after = asyncio.run(probe_ready(cluster))
            acks = cluster.ack_counts()
            outbox_tries, outbox_failed_tries = tries_by_reply(url)
            logs = cluster.logs()
            deadlocked = len(deadlocks(cluster))
        finally:
            stopping = time.monotonic()
            cluster.stop()  # SIGTERM, then SIGKILL after 15 s
            stop_s = time.monotonic() - stopping
            if relay is not None:
                relay.close()
    matters = [p for p in posts if p.matter]
    missing = [p.n for p in matters if not acks.replies.get((p.chat, p.message_id))]
    doubled = [p.n for p in matters if acks.replies.get((p.chat, p.message_id), 0) > 1]
    # An extra copy is explained by the at-least-once window scheduler/sender.py documents: a
    # failed try of its row (a send whose answer never came back: Telegram may have taken it),
    # a sender that says it lost its claim, or a row that was on the wire when the process was
    # killed (sent again by the next one, which says how many).
    marks = {key: len(re.findall(mark, logs)) for key, mark in LOG_MARKS.items()}
    resent = sum(int(n) for n in re.findall(r"outbox: (\d+) messages were being sent", logs))
    window = marks["lost_claim"] + resent
    ack_copies = sum(
        max(0, acks.replies.get(key, 0) - 1) for key in ((p.chat, p.message_id) for p in matters)
    )
    beyond_tries = sum(
        max(0, acks.replies.get(key, 0) - outbox_tries.get(key, 1))
        for key in ((p.chat, p.message_id) for p in matters)
    )
    unexplained = max(0, beyond_tries - window)
    copies_extra = acks.total - state["outbox"].get("sent", 0)
    lost = (
        state["recorded"] != len(posts)
        or state["unhandled"]
        or state["set_aside"]
        or state["registered"] != len(matters)
        or missing
        or stream.undelivered
    )
    figures: dict[str, Any] = {
        "fault": name,
        "backend": backend,
        "cycles": faults.cycles,
        "fault_s": [round(s, 1) for s in faults.seconds],
        "ready_during": faults.ready_during,
        "ready_after": ready_after,
        "startup_s": round(startup, 1),
        "posts": len(posts),
        "rate": round(stream.rate, 2),
        "redelivered": stream.redelivered,
        "deliveries": sum(p.tries for p in posts),
        "answers": {str(k or "refused"): v for k, v in sorted(cluster.responses.items())},
        "undelivered": len(stream.undelivered),
        "recorded": state["recorded"],
        "recorded_twice": state["recorded_twice"],
        "matters": len(matters),
        "registered": state["registered"],
        "issues": state["issues"],
        "acks_missing": len(missing),
        "acks_doubled": len(doubled),
        "acks_extra_copies": ack_copies,
        "acks_unexplained": unexplained,
        # Every message the Bot API took (acknowledgments, owners' notices) beyond one per row.
        "copies_extra": copies_extra,
        "resent_at_restart": resent,
        "copies_unexplained": max(0, copies_extra - outbox_failed_tries - window),
        "inbox_tries": state["inbox_tries"],
        "inbox_retried": state["inbox_retried"],
        "set_aside": state["set_aside"],
        "unhandled": state["unhandled"],
        "outbox": state["outbox"],
        "outbox_failed_tries": outbox_failed_tries,
        "log": marks,
        "deadlocks": deadlocked,
        "nothing_lost": not lost,
        "stream_s": round(stream.took, 1),
        "settle_s": round(settled, 1),
        "stop_s": round(stop_s, 1),
        "total_s": round(time.monotonic() - began, 1),
    }
    if lost or unexplained or copies_extra or state["recorded_twice"] or args.logs:
        folder = Path(args.logs or tempfile.mkdtemp(prefix="shuoshi-faults-logs-"))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.log").write_text(logs, encoding="utf-8")
        figures["logs"] = str(folder / f"{name}.log")
        if missing or doubled:
            figures["missing_posts"] = missing[:20]
            figures["doubled_posts"] = doubled[:20]
    return figures


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| fault | cycles | posts offered | webhook tries (5xx / refused) | recorded"
        " | matters registered | acks missing / doubled | extra copies (all messages) / unexplained"
        " | inbox tries | set aside | nothing lost | time |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in results:
        answers = r["answers"]
        failed = sum(v for k, v in answers.items() if k.isdigit() and int(k) >= 500)
        lines.append(
            f"| {r['fault']} ({r['backend']}) | {r['cycles']} | {r['posts']}"
            f" | {r['deliveries']} ({failed} / {answers.get('refused', 0)}) | {r['recorded']}"
            f" | {r['registered']} of {r['matters']} | {r['acks_missing']} / {r['acks_doubled']}"
            f" | {r['copies_extra']} / {r['copies_unexplained']} | {r['inbox_tries']}"
            f" | {r['set_aside']} | {'yes' if r['nothing_lost'] else 'NO'} | {r['total_s']:.0f} s |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=5, help="faults per run")
    parser.add_argument("--posts", type=int, default=300, help="posts per run")
    parser.add_argument("--only", nargs="+", choices=RUNS, default=list(RUNS))
    parser.add_argument("--min-fault", type=float, default=2.0, help="seconds (away, disk)")
    parser.add_argument("--max-fault", type=float, default=10.0, help="seconds (away, disk)")
    parser.add_argument(
        "--matters", type=float, default=0.75, help="share of posts that are matters"
    )
    parser.add_argument("--redeliver", type=float, default=0.1, help="share delivered twice")
    parser.add_argument("--settle", type=float, default=150.0, help="seconds to wait at the end")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--logs", help="keep each run's instance logs in this folder")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON lines")
    args = parser.parse_args()
    if args.cycles < 1 or args.posts < args.cycles * 2:
        parser.error("--cycles ≥ 1 and --posts ≥ 2 × cycles")

    began = time.monotonic()
    results = []
    for k, name in enumerate(args.only):
        figures = run_one(name, args, args.seed + 100 * k)
        results.append(figures)
        print(json.dumps(figures, ensure_ascii=False), file=sys.stderr)
    if args.json:
        for figures in results:
            print(json.dumps(figures, ensure_ascii=False))
    else:
        print(table(results))
        print(f"total {time.monotonic() - began:.0f} s, load average {os.getloadavg()[0]:.1f}")
    bad = [
        r["fault"]
        for r in results
        if not r["nothing_lost"] or r["acks_unexplained"] or r["copies_unexplained"]
    ]
    print("RESULT:", f"LOST OR DOUBLED in {', '.join(bad)}" if bad else "nothing lost")
    if bad:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
