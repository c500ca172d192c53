"""Soak: several `shuoshi run` instances on one PostgreSQL, Telegram posts through the webhook
route at a steady rate for minutes; nothing may be lost, memory must stay flat.

Default (issue 8): 200 groups, 20 posts/s for 10 minutes, two instances, a realistic mix (about
a third of the posts are matters, the rest chatter the bot keeps silent on), 2 % of the updates
delivered twice, the default platform rate limits (per instance: 30 messages/s overall, 20 per
group per minute). The Telegram Bot API is the fake of tests/telegram on 127.0.0.1.

Reports: posts offered and recorded, matters and their acknowledgments (missing, doubled),
post → acknowledgment latency p50/p90/p99/max (from the webhook POST to the Bot API receiving
the reply), webhook answer time, resident memory of each instance at start and end, CPU used
by each instance and by PostgreSQL.

Run:  .venv/bin/python bench/soak.py [--minutes 10] [--rate 20] [--groups 200] [--instances 2]
Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust; TEST_DATABASE_URL to change); a fresh
database is created and dropped. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from storage.db import make_engine  # noqa: E402
from storage.models import Inbound, Issue, Outbox  # noqa: E402
from tests.ops.cluster import Cluster, make_posts  # noqa: E402
from tests.ops.util import fresh_pg_database  # noqa: E402

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def postgres_cpu(url: str) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend serving the soak's database (other
    databases on the same server are not counted)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            pids = (
                conn.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity"
                        " WHERE datname = :d AND pid <> pg_backend_pid()"
                    ),
                    {"d": make_url(url).database},
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # not on this machine, or gone
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def pg_used(start: dict[int, float], end: dict[int, float]) -> float:
    """CPU seconds between two readings; a backend that appeared meanwhile counts whole."""
    return sum(end[pid] - start.get(pid, 0.0) for pid in end)


def database_counts(url: str) -> dict[str, object]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            statuses = dict(
                session.execute(
                    select(col(Inbound.status), func.count()).group_by(col(Inbound.status))
                ).all()
            )
            outbox = dict(
                session.execute(
                    select(col(Outbox.status), func.count()).group_by(col(Outbox.status))
                ).all()
            )
            issues = session.exec(select(func.count()).select_from(Issue)).one()
            inbound = session.exec(select(func.count()).select_from(Inbound)).one()
    finally:
        engine.dispose()
    return {"inbound": inbound, "statuses": statuses, "issues": issues, "outbox": outbox}


async def offer(cluster: Cluster, posts: list, rate: float, redeliver: float) -> float:
    """Open loop: post n starts at n / rate seconds, however slow earlier answers are."""
    began = time.monotonic()
    await cluster.send_all(posts, rate=rate, concurrency=40, redeliver=redeliver)
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="posts per second")
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--villages", type=int, default=20)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument(
        "--matters", type=float, default=0.35, help="share of posts that are matters"
    )
    parser.add_argument("--redeliver", type=float, default=0.02)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args()

    count = int(args.minutes * 60 * args.rate)
    with (
        tempfile.TemporaryDirectory(prefix="shuoshi-soak-") as tmp,
        fresh_pg_database(PG_URL) as url,
    ):
        cluster = Cluster(Path(tmp), url, groups=args.groups, villages=args.villages)
        try:
            cluster.prepare()
            cluster.start(args.instances)
            # Warm up (imports, first queries, connection pools), then measure.
            warm = make_posts(int(args.rate * 5), args.groups, matter_share=args.matters, start=0)
            asyncio.run(offer(cluster, warm, args.rate, 0.0))
            cluster.wait_acks(warm, timeout=60)
            rss_start = cluster.rss()
            cpu_start, pg_start = cluster.cpu_seconds(), postgres_cpu(url)
            cluster.answer_times.clear()
            posts = make_posts(count, args.groups, matter_share=args.matters, start=len(warm))
            print(
                f"soak: {count} posts at {args.rate}/s over {args.groups} groups, "
                f"{args.instances} instances …",
                file=sys.stderr,
            )
            offered_in = asyncio.run(offer(cluster, posts, args.rate, args.redeliver))
            cpu_end, pg_end = cluster.cpu_seconds(), postgres_cpu(url)
            rss_end = cluster.rss()
            drained = time.monotonic()
            acks = cluster.wait_acks(posts, timeout=180)
            drain = time.monotonic() - drained
            counts = database_counts(url)
        finally:
            cluster.stop()

    matters = [p for p in posts if p.matter]
    latencies = [
        acks.first[(p.chat, p.message_id)] - p.posted_at
        for p in matters
        if (p.chat, p.message_id) in acks.first and p.posted_at is not None
    ]
    missing = sum(1 for p in matters if (p.chat, p.message_id) not in acks.replies)
    doubled = sum(acks.replies.get((p.chat, p.message_id), 0) > 1 for p in matters)
    figures = {
        "posts": count,
        "rate_offered": round(count / offered_in, 2),
        "minutes": args.minutes,
        "groups": args.groups,
        "instances": args.instances,
        "matters": len(matters),
        "recorded": counts["inbound"] - len(warm),
        "issues": counts["issues"] - sum(p.matter for p in warm),
        "unhandled": counts["statuses"].get("new", 0),
        "outbox": counts["outbox"],
        "acks_missing": missing,
        "acks_doubled": doubled,
        "latency_p50_ms": round(pct(latencies, 50) * 1000, 1),
        "latency_p90_ms": round(pct(latencies, 90) * 1000, 1),
        "latency_p99_ms": round(pct(latencies, 99) * 1000, 1),
        "latency_max_ms": round(max(latencies, default=float("nan")) * 1000, 1),
        "webhook_p50_ms": round(pct(cluster.answer_times, 50) * 1000, 1),
        "webhook_p99_ms": round(pct(cluster.answer_times, 99) * 1000, 1),
        "drain_s": round(drain, 1),
        "rss_start_mb": {k: round(v, 1) for k, v in rss_start.items()},
        "rss_end_mb": {k: round(v, 1) for k, v in rss_end.items()},
        "cpu_instances_pct": {
            k: round(100 * (cpu_end[k] - cpu_start[k]) / offered_in, 1) for k in cpu_end
        },
        "cpu_postgres_pct": round(100 * pg_used(pg_start, pg_end) / offered_in, 1),
        "load_average": os.getloadavg()[0],
        "failovers": cluster.failovers,
    }
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
        return
    for key, value in figures.items():
        print(f"{key:>20}: {value}")
    lost = figures["recorded"] != count or missing or figures["unhandled"]
    print(
        "RESULT:",
        "LOST MESSAGES" if lost else "nothing lost",
        f"(median {statistics.median(latencies) * 1000:.0f} ms)" if latencies else "",
    )
    if lost:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
