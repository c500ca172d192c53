"""Intake throughput: posts through handlers and storage on SQLite, one core.

Goal (issue 2): ≥ 1,000 posts/s with per-post p99 < 10 ms; classification ≥ 5,000 posts/s.
Run: .venv/bin/python bench/intake.py [--posts 3000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where bench/classifier.py would
# hide the `classifier` package: put the repository there instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bot.app import build  # noqa: E402
from handlers.clock import FakeClock  # noqa: E402
from handlers.intake import receive, receive_many  # noqa: E402
from ports.messages import Incoming  # noqa: E402
from ports.settings import Settings  # noqa: E402

# A mix like a real group: about a third are matters, the rest chatter and replies.
POSTS = [
    "村口路灯坏了好几天了，晚上黑乎乎的",
    "收到",
    "隔壁老王家的鸡天天跑到我家菜地里",
    "好的谢谢",
    "我家老人住院了，想问问大病救助怎么申请",
    "大家早上好[太阳]",
    "三组那段水渠塌了，过两天要放水灌溉了",
    "👍👍",
    "明天几点开会？",
]


def labeled_posts() -> list[tuple[str, str]]:
    """(text, label) of the project's own labeled data."""
    import json

    root = Path(__file__).resolve().parent.parent / "data" / "posts"
    rows = []
    for name in ("part1.jsonl", "part2.jsonl", "part3.jsonl"):
        path = root / name
        if path.is_file():
            for line in path.read_text("utf-8").splitlines():
                if line:
                    row = json.loads(line)
                    rows.append((row["text"], row["label"]))
    return rows


def dataset_posts() -> list[str]:
    """Real-looking, distinct posts (the project's own labeled data), so duplicate detection
    and the classifier see what a group sends, not nine texts over and over. About three in
    four are matters: the data was written to train the classifier."""
    return [text for text, _ in labeled_posts()] or POSTS


def group_mix_posts() -> list[str]:
    """The same posts in a group's proportions: one matter to two other posts (chatter,
    thanks, questions), interleaved."""
    rows = labeled_posts()
    matters = [t for t, label in rows if label != "非事项"]
    other = [t for t, label in rows if label == "非事项"]
    if not matters or not other:
        return POSTS
    mixed = []
    for i in range(len(other) // 2):
        mixed += [matters[i % len(matters)], other[2 * i], other[2 * i + 1]]
    return mixed


def run_intake(posts: list[str], n: int, batch: int = 1) -> tuple[float, float, float, int]:
    """Posts/s, p50 ms, p99 ms and issues made, on a fresh database. With `batch` > 1 the
    posts arrive `batch` at a time (`receive_many`, as the doors hand over a burst), and each
    post's latency is its whole batch's time: from the batch's arrival to its commit."""
    from sqlmodel import Session, func, select

    from storage.models import Issue

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        clock = FakeClock(datetime(2026, 11, 23, 9, 0))
        app = build(Settings(database_url=url), clock=clock, database_url=url)
        msgs = [
            Incoming(
                platform="local",
                chat="新联村说事群",
                sender=f"村民{i % 200}",
                sender_name=f"村民{i % 200}",
                text=posts[i % len(posts)],
                message_id=f"m{i}",
                at=clock.now(),
            )
            for i in range(n)
        ]
        latencies = []
        start = time.perf_counter()
        for first in range(0, n, batch):
            chunk = msgs[first : first + batch]
            t0 = time.perf_counter()
            if batch == 1:
                receive(app.engine, app.deps, chunk[0])
            else:
                receive_many(app.engine, app.deps, chunk)
            latencies += [time.perf_counter() - t0] * len(chunk)
        total = time.perf_counter() - start
        with Session(app.engine) as session:
            issues = session.exec(select(func.count()).select_from(Issue)).one()
        app.engine.dispose()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return n / total, p50, p99, int(issues)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument(
        "--batch", type=int, nargs="+", default=[1, 4, 8], help="posts handed over at a time"
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core, as the goal says
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        app = build(Settings(database_url=url), database_url=url)
        classifier = app.deps.classifier
        posts = dataset_posts()
        start = time.perf_counter()
        n_cls = 20000
        for i in range(n_cls):
            classifier.predict(posts[i % len(posts)])
        cls_rate = n_cls / (time.perf_counter() - start)
        app.engine.dispose()
    print(f"classifier: {type(classifier).__name__}")
    print(f"classification: {cls_rate:,.0f} posts/s")
    for name, stream in (("dataset mix", posts), ("group mix", group_mix_posts())):
        for batch in args.batch:
            rate, p50, p99, issues = run_intake(stream, args.posts, batch)
            how = "one at a time" if batch == 1 else f"{batch} at a time"
            print(
                f"intake, {name}, {how}: {rate:,.0f} posts/s, p50 {p50:.2f} ms, "
                f"p99 {p99:.2f} ms ({issues} issues from {args.posts} posts)"
            )


if __name__ == "__main__":
    main()
