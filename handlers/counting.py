"""What this process decided, counted at commit (the Prometheus counters of /metrics).

At the one place every decision passes, the commit of the transaction that decided an inbound
message, a session listener sees the inbox row's new status and any issue created with it and
counts them once the commit succeeded (a rolled-back transaction counts nothing). Decisions
call `counted` for rows written without an ORM object. ops/metrics.py serves the figures; this
module sits below the decisions so that they can count without importing operations.
"""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, PlatformCollector, ProcessCollector
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from storage.models import Inbound, Issue

REGISTRY = CollectorRegistry(auto_describe=True)
MESSAGES = Counter(
    "shuoshi_messages",
    "Messages received and decided by this instance, by platform and outcome",
    ["platform", "status"],
    registry=REGISTRY,
)
MATTERS = Counter(
    "shuoshi_matters_created",
    "Matters (issues) registered by this instance",
    ["platform"],
    registry=REGISTRY,
)
COMMANDS = Counter(
    "shuoshi_commands",
    "Commands (slash, keyword, reply or button) handled by this instance",
    ["platform"],
    registry=REGISTRY,
)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

_KEY = "shuoshi.metrics"


# --------------------------------------------------------------------------------------------
# counted at commit
# --------------------------------------------------------------------------------------------


def _after_flush(session: Session, _context: Any) -> None:
    for obj in session.new:
        if isinstance(obj, Inbound) and obj.status != "new":
            session.info.setdefault(_KEY, {})[("in", id(obj))] = (obj.platform, obj.status)
        elif isinstance(obj, Issue):
            platform = obj.reporter.partition(":")[0] or "unknown"
            session.info.setdefault(_KEY, {})[("issue", id(obj))] = (platform, "")
    for obj in session.dirty:
        if (
            isinstance(obj, Inbound)
            and obj.status != "new"
            and inspect(obj).attrs.status.history.has_changes()
        ):
            session.info.setdefault(_KEY, {})[("in", id(obj))] = (obj.platform, obj.status)


def counted(session: Session, key: tuple[str, int], platform: str, status: str = "") -> None:
    """Count what was written without an ORM object ("post", inbox id) / ("issue", issue id),
    at commit like the rest."""
    session.info.setdefault(_KEY, {})[key] = (platform, status)


def _after_commit(session: Session) -> None:
    seen = session.info.pop(_KEY, None)
    if not seen:
        return
    for (what, _), (platform, status) in seen.items():
        if what == "issue":
            MATTERS.labels(platform).inc()
        else:
            MESSAGES.labels(platform, status).inc()
            if status == "command":
                COMMANDS.labels(platform).inc()


def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_KEY, None)


_installed = False
_lock = threading.Lock()


def install() -> None:
    """Listen to every session of this process (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _forget)
        _installed = True
