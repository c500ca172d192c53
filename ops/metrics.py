"""Figures for Prometheus at /metrics (mounted on the admin app).

Two kinds:

- Counted by this process, at the one place every decision passes: the commit of the
  transaction that decided an inbound message. A session listener sees the inbox row's new
  status and any issue created with it, and counts them once the commit succeeded (a rolled
  back transaction counts nothing). Nothing in intake.py needs to know.
      shuoshi_messages_total{platform, status}    matter, chatter, command, note, rating, …
      shuoshi_matters_created_total{platform}
      shuoshi_commands_total{platform}
  With several instances, add them up across instances (sum by (platform)).

- Read from the database when scraped (every instance shows the same values; take one, or
  max()): what is owed and how late it is.
      shuoshi_outbox_messages{platform, status}   pending, sending, sent, failed
      shuoshi_send_retries_total{platform}        failed tries that were or will be tried again
      shuoshi_outbox_lag_seconds                  how long the oldest due message has waited
      shuoshi_scheduler_lag_seconds               how far the reminder sweep is behind
      shuoshi_inbox_unhandled                     recorded, not yet decided (should be 0)
      shuoshi_inbox_failed                        set aside after every try failed (shuoshi inbox)
      shuoshi_inbox_lag_seconds                   how long the oldest undecided message has waited
  Plus shuoshi_lease_held{name} (1 on the instance reading a WeChat gateway) and the
  process_* figures (memory, CPU, open files).

No labels carry personal data: platforms, statuses, lease names only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from handlers.clock import Clock
from handlers.counting import REGISTRY, install
from storage import health, inbox, lease

CACHE_SECONDS = 5.0


# --------------------------------------------------------------------------------------------
# read from the database
# --------------------------------------------------------------------------------------------


class DatabaseCollector(Collector):
    """What is owed and how late, read (at most every CACHE_SECONDS) from the database."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._cached: tuple[float, list[Metric]] | None = None
        self._lock = threading.Lock()

    def describe(self) -> list[Metric]:
        return []  # no description at registration: that would query the database

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > CACHE_SECONDS:
                self._cached = (time.monotonic(), self._read())
            yield from self._cached[1]

    def _read(self) -> list[Metric]:
        up = GaugeMetricFamily("shuoshi_database_up", "1 when the database answered the scrape")
        try:
            metrics = self._query()
        except Exception:
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *metrics]

    def _query(self) -> list[Metric]:
        now = self.clock.now()
        with Session(self.engine) as session:
            rows = health.outbox_by_platform(session=session)
            oldest_due = health.oldest_due(session=session, now=now)
            next_check = health.next_check(session=session)
            waiting = inbox.counts(session)
            oldest_unhandled = inbox.oldest_waiting(session)
        outbox = GaugeMetricFamily(
            "shuoshi_outbox_messages",
            "Outgoing messages in the outbox, by platform and status (whole database)",
            labels=["platform", "status"],
        )
        retried = CounterMetricFamily(
            "shuoshi_send_retries",
            "Failed sending tries that were or will be tried again (whole database)",
            labels=["platform"],
        )
        per_platform: dict[str, int] = {}
        for platform, status, count, tries in rows:
            outbox.add_metric([platform, status], count)
            per_platform[platform] = per_platform.get(platform, 0) + int(tries or 0)
        for platform, tries in sorted(per_platform.items()):
            retried.add_metric([platform], tries)
        outbox_lag = GaugeMetricFamily(
            "shuoshi_outbox_lag_seconds",
            "How long the oldest message due for sending has waited (0: nothing waiting)",
        )
        outbox_lag.add_metric([], _late(now, oldest_due))
        scheduler_lag = GaugeMetricFamily(
            "shuoshi_scheduler_lag_seconds",
            "How far behind its due time the earliest unswept reminder/escalation check is",
        )
        scheduler_lag.add_metric([], _late(now, next_check))
        inbox_metric = GaugeMetricFamily(
            "shuoshi_inbox_unhandled", "Messages recorded but not yet decided (whole database)"
        )
        inbox_metric.add_metric([], waiting["new"])
        failed_in = GaugeMetricFamily(
            "shuoshi_inbox_failed",
            "Received messages whose handling failed every try: set aside (shuoshi inbox)",
        )
        failed_in.add_metric([], waiting["failed"])
        inbox_lag = GaugeMetricFamily(
            "shuoshi_inbox_lag_seconds",
            "How long the oldest message still waiting to be handled has waited",
        )
        inbox_lag.add_metric([], _late(now, oldest_unhandled))
        held = GaugeMetricFamily(
            "shuoshi_lease_held",
            "1 for each lease this instance holds (a WeChat gateway's event stream)",
            labels=["name"],
        )
        for name in sorted(lease.HELD):
            held.add_metric([name], 1)
        return [
            outbox,
            retried,
            outbox_lag,
            scheduler_lag,
            inbox_metric,
            failed_in,
            inbox_lag,
            held,
        ]


def _late(now: datetime, due: datetime | None) -> float:
    if due is None:
        return 0.0
    due = due if due.tzinfo else due.replace(tzinfo=UTC)  # the models store UTC
    return max(0.0, (now - due).total_seconds())


def exposition(engine: Engine, clock: Clock) -> bytes:
    """The /metrics page for one app (tests call this directly)."""
    own = CollectorRegistry(auto_describe=False)
    own.register(DatabaseCollector(engine, clock))
    return generate_latest(REGISTRY) + generate_latest(own)


def mount(api: Any, app: Any) -> None:
    """GET /metrics on the admin app (FastAPI), and counting in this process."""
    from fastapi.responses import Response

    install()
    collector = DatabaseCollector(app.engine, app.clock)
    own = CollectorRegistry(auto_describe=False)
    own.register(collector)

    def metrics() -> Response:
        body = generate_latest(REGISTRY) + generate_latest(own)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    api.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
