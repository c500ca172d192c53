"""/readyz: whether this instance can take messages now. Not only "the database answers":
a full disk, a door that cannot record what comes in, or messages waiting far too long to be
handled make it not ready (a load balancer then sends the next webhook elsewhere, and an
operator's monitor turns red). Each check's figure is in the answer either way."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from storage import health, inbox, outbox

if TYPE_CHECKING:
    from handlers.deps import Deps
    from ports.runtime import Runtime

    App = Runtime[Deps]

MIN_FREE_DISK = 200 * 1024**2  # bytes; below it a photo or a database page may not fit
MAX_INBOX_WAIT = timedelta(minutes=5)  # a recorded message still not handled (retries: 10 s–30 min)
MAX_OUTBOX_WAIT = timedelta(minutes=30)  # the oldest due answer (rate limits keep it minutes)


def _age(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:
        then = then.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - then).total_seconds())


def check(app: App) -> tuple[bool, dict[str, Any]]:
    """(ready?, the figures): database, free disk, inbox and outbox waits, the doors."""
    report: dict[str, Any] = {}
    problems: list[str] = []
    try:
        free = shutil.disk_usage(Path(app.settings.data_dir)).free
        report["disk_free_mb"] = free // 1024**2
        if free < MIN_FREE_DISK:
            problems.append("disk full")
    except OSError as exc:
        report["disk_free_mb"] = None
        problems.append(f"data folder: {exc.strerror or exc}")
    now = app.clock.now()
    try:
        with Session(app.engine) as session:
            health.ping(session=session)
            counts = inbox.counts(session)
            waiting = _age(now, inbox.oldest_waiting(session))
            sending = _age(now, outbox.oldest_pending(session=session))
    except Exception as exc:  # the database is away: the first thing "ready" means
        return False, {**report, "status": "down", "error": str(exc).splitlines()[0][:200]}
    report |= {
        "inbox_waiting": counts["new"],
        "inbox_failed": counts["failed"],
        "inbox_oldest_seconds": round(waiting),
        "outbox_oldest_seconds": round(sending),
    }
    if waiting > MAX_INBOX_WAIT.total_seconds():
        problems.append("messages not handled")
    if sending > MAX_OUTBOX_WAIT.total_seconds():
        problems.append("answers not sent")
    for name, info in app.status.items():
        if isinstance(info, dict) and info.get("state") == "error":
            problems.append(f"{name}: {info.get('error') or 'error'}"[:200])
    report["status"] = "ok" if not problems else "not ready"
    if problems:
        report["problems"] = problems
    return not problems, report
