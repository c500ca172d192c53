"""Crashes and races, for real: a sender process killed with SIGKILL in the middle of a batch
and started again, and two senders racing over one database. Every message exactly once.

The killed sender runs this module as a program (see `child` below): it sends through a
platform that appends each delivered row id to a file, as a chat would show it; the test's own
process then plays the restarted sender.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from handlers.clock import FakeClock
from scheduler.sender import Sender, SenderConfig
from storage.db import make_engine, session_scope
from storage.models import Outbox

if TYPE_CHECKING:
    from bot.app import App

REPO = Path(__file__).resolve().parents[2]
QUEUED_AT = datetime(2026, 11, 23, 9, 0)  # the conftest clock's start
CHATS = 20


def queue_many(app: App, count: int) -> list[int]:
    now = app.clock.now()
    rows = [
        Outbox(
            platform="fake",
            chat=f"chat{i % CHATS}",
            private=True,
            text=f"第{i}条",
            created_at=now,
            not_before=now,
        )
        for i in range(count)
    ]
    with session_scope(app.engine) as session:
        session.add_all(rows)
        session.flush()
        return [row.id or 0 for row in rows]


def statuses(app: App) -> dict[int, str]:
    with Session(app.engine) as session:
        return dict(session.exec(select(Outbox.id, Outbox.status)).all())  # type: ignore[arg-type]


class RecordingPlatform:
    """Appends each delivered row id to a file (the chat). With `freeze_at`, the process
    stops dead when asked for that send, before delivering it: a machine hanging mid-send,
    which the test then kills."""

    platform = "fake"

    def __init__(self, record: Path, freeze_at: int, marker: Path) -> None:
        self.out = record.open("a", buffering=1)
        self.freeze_at = freeze_at
        self.marker = marker
        self.asked = 0

    async def send(self, row: Outbox) -> str:
        self.asked += 1
        if self.asked == self.freeze_at:
            self.marker.write_text("frozen")
            time.sleep(120)  # blocks the whole event loop: every other send stops where it is
        await asyncio.sleep(0.001)  # on the wire
        self.out.write(f"{row.id}\n")  # line-buffered: in the file before we return
        return f"m{row.id}"


def child(url: str, record: str, freeze_at: int, marker: str) -> None:
    """One `shuoshi run` sender, as far as the outbox goes: recover, then send what is due."""
    engine = make_engine(url)
    clock = FakeClock(QUEUED_AT + timedelta(hours=1))
    platform = RecordingPlatform(Path(record), freeze_at, Path(marker))
    config = SenderConfig(outbox_batch_size=60, outbox_concurrency=8)
    sender = Sender(engine, clock, {"fake": platform}, config=config)
    sender.recover_orphans()
    asyncio.run(sender.flush())
    engine.dispose()


def start_child(url: str, record: Path, freeze_at: int, marker: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", __name__, url, str(record), str(freeze_at), str(marker)],
        cwd=REPO,
    )


def test_killed_mid_batch_then_restarted_sends_every_message_exactly_once(
    app: App, database_url: str, tmp_path: Path
) -> None:
    ids = queue_many(app, 300)
    record, marker = tmp_path / "chat.log", tmp_path / "frozen"

    first = start_child(database_url, record, 120, marker)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert first.poll() is None, "the sender ended before it froze"
        assert time.monotonic() < deadline, "the sender never reached the freeze"
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL

    # Killed in the middle: some sent, some claimed by the dead process, some not yet taken.
    at_kill = statuses(app)
    counts = Counter(at_kill.values())
    assert counts["sent"] >= 100 and counts["sending"] > 0 and counts["pending"] > 0, counts
    delivered = record.read_text().split()
    assert sorted(map(int, delivered)) == sorted(i for i, s in at_kill.items() if s == "sent")

    # The restart: a new sender on this host (here, the test's own process) sees the claims
    # of a process that is gone and takes them back at once, then sends what is left.
    restarted = RecordingPlatform(record, 0, marker)
    sender = Sender(app.engine, FakeClock(QUEUED_AT + timedelta(hours=1)), {"fake": restarted})
    assert sender.recover_orphans() == counts["sending"]
    asyncio.run(sender.flush())
    restarted.out.close()

    delivered = record.read_text().split()
    assert Counter(map(int, delivered)) == Counter(ids)  # each exactly once
    assert set(statuses(app).values()) == {"sent"}


def test_two_senders_racing_send_every_message_exactly_once(app: App, database_url: str) -> None:
    ids = queue_many(app, 2000)
    delivered: list[tuple[int, str]] = []
    start = threading.Barrier(2)

    class Shared:
        platform = "fake"

        def __init__(self, name: str) -> None:
            self.name = name

        async def send(self, row: Outbox) -> str:
            delivered.append((row.id or 0, self.name))  # list.append is atomic under the GIL
            await asyncio.sleep(0)  # let the other sends of this sender interleave
            return f"{self.name}-{row.id}"

    def instance(name: str) -> None:
        engine = make_engine(database_url)  # each its own engine and connections
        sender = Sender(
            engine,
            FakeClock(QUEUED_AT),
            {"fake": Shared(name)},
            # Commits that skip the disk wait: this test is about claims, and a crash of the
            # database server is not part of it.
            config=SenderConfig(
                outbox_batch_size=50, outbox_concurrency=8, outbox_synchronous_commit=False
            ),
        )
        start.wait()
        asyncio.run(sender.flush())
        engine.dispose()

    threads = [threading.Thread(target=instance, args=(name,)) for name in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)

    assert Counter(i for i, _ in delivered) == Counter(ids)  # every message exactly once
    by_instance = Counter(name for _, name in delivered)
    assert by_instance["one"] > 0 and by_instance["two"] > 0, by_instance  # a real race
    with Session(app.engine) as session:
        sent = session.exec(select(Outbox).where(col(Outbox.status) == "sent")).all()
        assert len(sent) == len(ids)
        # Each row records the id its own sender got back.
        assert all((r.platform_message_id or "").endswith(f"-{r.id}") for r in sent)


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
