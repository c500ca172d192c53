"""Scheduled work (reminders, 督办, escalation, daily to-do, weekly digest) driven by the clock.

All state is in the database: what is due (IssueCheck, JobRun), what was owed and sent
(Reminder). APScheduler is only the trigger that runs `Scheduler.sweep` every minute in
`shuoshi run`, so a restart loses and repeats nothing, and instances sharing one PostgreSQL
split the work with row locks (FOR UPDATE SKIP LOCKED) and unique keys.

`make_ticker` gives scenario scripts a way to move time: every job due on the way runs at its
own simulated time, and what it queues is delivered then.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from handlers import triage
from handlers.clock import Clock, FakeClock
from handlers.deps import Deps
from handlers.visits import default_delays, delays
from ports.runtime import Runtime
from scheduler import periodic
from scheduler.config import SchedulerConfig, scheduler_config
from scheduler.ladder import GridSnapshot, process_due
from scheduler.notices import settle
from storage import outbox, schedule
from storage.db import session_scope

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

# Moves a script's fake clock to the moment given, running on the way what is due (make_ticker).
Ticker = Callable[[datetime], Awaitable[None]]
SWEEP_SECONDS = 60
INBOX_RETRY_SECONDS = 5
MAX_BATCHES = 10_000  # a guard against a loop, far above any real backlog


@dataclass
class SweepResult:
    issues: int = 0
    periodic: list[str] = field(default_factory=list)
    messages: int = 0


class Scheduler:
    """One deployment's scheduled work; safe to run in several processes at once."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        cfg: SchedulerConfig,
        *,
        town: str = "",
        charts: Path | None = None,
        visits_after: dict[str, timedelta] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.cfg = cfg
        self.town = town
        self.charts = charts
        # 回访: days after closing, per kind (`[visits]` of the grid file).
        self.visits_after = visits_after or default_delays()

    @classmethod
    def for_app(cls, app: Runtime[object], *, charts: bool = True) -> Scheduler:
        cfg = scheduler_config(app.grid, daily_todo=app.settings.daily_todo)
        folder = Path(app.settings.data_dir) / "charts" if cfg.digest_chart and charts else None
        return cls(
            app.engine,
            app.clock,
            cfg,
            town=app.grid.town_name,
            charts=folder,
            visits_after=delays(app.grid),
        )

    def now(self) -> datetime:
        return self.clock.now().astimezone(self.clock.tz)

    def sweep(self) -> SweepResult:
        """Everything due now: the periodic jobs (to-do, digest), then the issues whose check
        has come, in transactions of up to `batch` issues, each writing what it found owed
        together with whatever waits: held inside the quiet hours, else one message per
        person."""
        now = self.now()
        result = SweepResult()
        result.periodic = periodic.run(
            self.engine, now=now, cfg=self.cfg, town=self.town, charts=self.charts
        )
        quiet = self.cfg.in_quiet(now)
        # 议事 and 回访 (issue 19): votes whose deadline came, visits planned and fallen due.
        result.messages += periodic.votes_and_visits(
            self.engine, now=now, after=self.visits_after, quiet=quiet
        )
        with Session(self.engine) as session:
            directory = GridSnapshot.load(session)
        for _ in range(MAX_BATCHES):
            try:
                with session_scope(self.engine) as session:
                    batch = process_due(
                        session, now=now, cfg=self.cfg, directory=directory, limit=self.cfg.batch
                    )
                    result.messages += settle(session, now=now, owed=batch.rows, quiet=quiet)
            except IntegrityError:
                # Another instance recorded one of these stages first (its commit is visible
                # now): nothing is lost, the rows are done.
                log.info("a reminder of this batch was recorded by another instance")
                break
            result.issues += batch.issues
            if batch.issues < self.cfg.batch:
                break
        return result

    def sweep_logged(self) -> None:
        """The APScheduler job: a failed sweep is logged and the next minute tries again."""
        try:
            result = self.sweep()
        except OperationalError:
            log.exception("scheduler sweep: database unavailable")
            return
        except Exception:
            log.exception("scheduler sweep")
            return
        if result.issues or result.periodic or result.messages:
            log.info(
                "sweep: %d issues looked at, jobs %s, %d messages queued",
                result.issues,
                result.periodic or "-",
                result.messages,
            )

    def next_moment(self) -> datetime | None:
        """The next moment after now at which a sweep has something to do (for scripts: the
        clock jumps there)."""
        now = self.now()
        moments: list[datetime] = []
        with Session(self.engine) as session:
            first = schedule.next_check_after(session=session, after=now)
            if first is not None:
                moments.append(first)
            if schedule.any_held(session=session):
                moments.append(self.cfg.quiet_end(now))
            gathering = schedule.oldest_held(session=session, stage=triage.STAGE)
            if gathering is not None:  # triage cards go out once they have gathered
                gathering = (
                    gathering.astimezone(now.tzinfo)
                    if gathering.tzinfo
                    else gathering.replace(tzinfo=now.tzinfo)
                )
                moments.append(self.cfg.quiet_end(max(now, gathering + triage.GATHER)))
            retry = outbox.next_due_after(session=session, after=now)
            if retry is not None:
                moments.append(retry)
        if (daily := periodic.next_moment(now, self.cfg)) is not None:
            moments.append(daily)
        if (voted := periodic.votes_and_visits_moment(self.engine, now)) is not None:
            moments.append(voted)
        later = [m for m in moments if m > now]
        return min(later, default=None)


def make_ticker(app: Runtime[object], *, charts: bool = False) -> Ticker:
    """For `@at`/`@wait` in scenario scripts: step the fake clock to each moment the scheduler
    has work before `when`, sweep and deliver there, so each message shows at its own time.
    No digest charts by default: a transcript cannot show them, and drawing costs seconds."""
    scheduler: Scheduler | None = None

    async def tick(when: datetime) -> None:
        nonlocal scheduler
        if scheduler is None:
            scheduler = Scheduler.for_app(app, charts=charts)
        sender = app.sender()
        clock = app.clock
        for _ in range(MAX_BATCHES):
            scheduler.sweep()
            await sender.flush()
            moment = scheduler.next_moment()
            if moment is None or moment > when:
                return
            assert isinstance(clock, FakeClock)  # only a script's clock is moved
            clock.set(moment)

    return tick


def start_scheduler(app: Runtime[Deps]) -> AsyncIOScheduler:
    """`shuoshi run`: sweep every minute (and once at start-up) on the running event loop; the
    sweep itself runs in APScheduler's worker thread, the sender loop delivers what it queues."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    scheduler = Scheduler.for_app(app)
    aps = AsyncIOScheduler(timezone=app.clock.tz)
    aps.add_job(
        scheduler.sweep_logged,
        "interval",
        seconds=SWEEP_SECONDS,
        next_run_time=app.clock.now(),
        id="sweep",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=SWEEP_SECONDS,
    )
    # Messages whose handling failed are tried again with backoff while the bot runs (not only
    # at the next start): a passing fault heals within seconds, a bad message is set aside.
    aps.add_job(
        _retry_inbox,
        "interval",
        seconds=INBOX_RETRY_SECONDS,
        args=[app],
        id="inbox-retry",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=INBOX_RETRY_SECONDS,
    )
    aps.start()
    return aps


def _retry_inbox(app: Runtime[Deps]) -> None:
    from handlers.intake import retry_due

    try:
        retried = retry_due(app.engine, app.deps)
    except Exception:  # the database is away: the next run tries again
        log.warning("inbox retry skipped: database unavailable", exc_info=True)
        return
    if retried:
        log.info("tried again %d inbox messages whose handling had failed", retried)
