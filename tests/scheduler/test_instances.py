"""Two schedulers on one database: on PostgreSQL they sweep at the same moment (row locks,
SKIP LOCKED, unique keys); on SQLite, which serves a single instance, one after the other (a
restart). Either way every reminder, 督办, escalation and to-do is owed and queued exactly once."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, func, select

from bot.app import App
from scheduler.jobs import Scheduler
from storage.db import make_engine
from storage.models import Event, Issue, JobRun, Level, Outbox, Person, Reminder, Village

ISSUES = 120
NOW = datetime(2026, 11, 24, 8, 0)  # Tuesday: the daily to-do is due as well


def test_two_schedulers_owe_everything_exactly_once(
    make_app: Callable[..., App], database_url: str
) -> None:
    app = make_app(start=NOW)
    now = app.clock.now()
    with Session(app.engine) as session:
        village = session.exec(select(Village).where(Village.name == "新联村")).one()
        owners = [
            (p.id, p.name)
            for p in session.exec(
                select(Person).where(Person.village_id == village.id, Person.role == "网格员")
            ).all()
        ]
        # Every issue is overdue by two days on a one-day limit: 督办 and escalation are both
        # due; the owner's earlier reminders are overtaken.
        for n in range(1, ISSUES + 1):
            session.add(
                Issue(
                    number=n,
                    village_id=village.id or 0,
                    kind="邻里事",
                    text=f"第{n}件纠纷",
                    reporter="local:村民",
                    owner_id=owners[n % len(owners)][0],
                    created_at=now - timedelta(days=3),
                    clock_start=now - timedelta(days=3),
                    due_at=now - timedelta(days=2),
                )
            )
        session.add(JobRun(job="start", period="-", at=now - timedelta(hours=12)))
        session.commit()

    def scheduler(**cfg: object) -> Scheduler:
        s = Scheduler.for_app(app, charts=False)
        s.engine = make_engine(database_url)  # its own pool, as another process would have
        s.cfg = replace(s.cfg, batch=10, **cfg)  # type: ignore[arg-type]  # small batches: the two interleave
        return s

    def race(first: Scheduler, second: Scheduler) -> None:
        if database_url.startswith("sqlite"):
            first.sweep()
            second.sweep()
        else:
            start = threading.Barrier(2)
            errors: list[BaseException] = []

            def run(s: Scheduler) -> None:
                try:
                    start.wait()
                    s.sweep()
                except BaseException as exc:  # reported below, not lost in the thread
                    errors.append(exc)

            threads = [threading.Thread(target=run, args=(s,)) for s in (first, second)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert not errors
        for s in (first, second):
            s.engine.dispose()

    # Tuesday 08:00, the to-do left out: the issues' 督办 and escalations.
    race(scheduler(todo_at=None), scheduler(todo_at=None))
    with Session(app.engine) as session:
        texts = session.exec(select(Outbox.recipient, Outbox.text)).all()
        escalated = session.exec(
            select(func.count()).select_from(Event).where(Event.kind == "escalated")
        ).one()
        levels = set(session.exec(select(Issue.level)).all())
    mentions = Counter(
        (who, int(number)) for who, text in texts for number in re.findall(r"#(\d+)", text)
    )
    expected = Counter()
    for n in range(1, ISSUES + 1):
        expected[(owners[n % len(owners)][1], n)] += 1  # 督办 to the owner
        expected[("李书记", n)] += 1  # 督办 to the village 书记
        expected[("陈镇长", n)] += 1  # escalation to the town, naming the village
    assert mentions == expected
    assert escalated == 2 * ISSUES and levels == {Level.TOWN}
    if database_url.startswith("sqlite"):
        # Rows written in bulk store moments exactly as SQLAlchemy does, so that they compare.
        with app.engine.connect() as conn:
            stored = conn.execute(
                text(
                    "SELECT created_at FROM reminder UNION ALL SELECT at FROM event "
                    "UNION ALL SELECT next_check_at FROM issuecheck"
                )
            ).scalars()
            assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", s) for s in stored)

    # Wednesday 08:00: the daily to-do, claimed once.
    app.clock.set(NOW + timedelta(days=1))  # type: ignore[attr-defined]
    race(scheduler(), scheduler())
    with Session(app.engine) as session:
        todos = session.exec(select(Outbox.recipient).where(Outbox.category == "todo")).all()
        held = session.exec(
            select(func.count()).select_from(Reminder).where(Reminder.status == "held")
        ).one()
    assert sorted(todos) == sorted(name for _, name in owners) and held == 0
