"""The jobs that run at a time of day: the daily to-do (08:00) and the weekly digest (Monday
08:00). Each run is claimed by a JobRun row (job, period), written in the same transaction as
what it produces, so a restart neither loses nor repeats it and a second instance skips it.

Moments before the scheduler's first sweep on this database are not caught up (a new
installation does not greet its 书记 with last week's empty digest); after a downtime a missed
digest is still sent within its week, a missed to-do within 12 hours.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from handlers import texts, triage, visits, votes
from handlers.privacy import short
from scheduler import digest
from scheduler.config import SchedulerConfig
from scheduler.ladder import GridSnapshot
from scheduler.notices import settle
from storage import issues, people, posts, schedule
from storage import visits as visit_rows
from storage import votes as vote_rows
from storage.db import session_scope

log = logging.getLogger(__name__)

TODO_LIMIT = 15
DIGEST_GRACE = timedelta(days=7)
CARD_WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class Due:
    job: str  # todo, digest
    period: str  # 2026-11-24, 2026-W48
    at: datetime


def _at(day: date, clock: time, tz: Any) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz)


def started_at(engine: Any, now: datetime) -> datetime:
    """When the scheduler first ran on this database (recorded by the first sweep)."""
    with Session(engine) as session:
        return schedule.started_at(session=session, now=now)


def due_jobs(now: datetime, cfg: SchedulerConfig, started: datetime) -> list[Due]:
    out: list[Due] = []
    tz = now.tzinfo
    if cfg.todo_at is not None:
        at = _at(now.date(), cfg.todo_at, tz)
        if at <= now < at + cfg.todo_grace and at >= started:
            out.append(Due("todo", now.date().isoformat(), at))
    if cfg.digest_at is not None:
        at = _digest_moment(now, cfg)
        if at >= started and now < at + DIGEST_GRACE:
            out.append(Due("digest", _covered(at).label, at))
    return out


def _digest_moment(now: datetime, cfg: SchedulerConfig) -> datetime:
    """The latest digest moment at or before now."""
    assert cfg.digest_at is not None
    day = now.date() - timedelta(days=(now.weekday() - cfg.digest_weekday) % 7)
    at = _at(day, cfg.digest_at, now.tzinfo)
    return at if at <= now else at - timedelta(days=7)


def _covered(at: datetime) -> digest.Week:
    """The last full week before a digest moment."""
    assert at.tzinfo is not None
    return digest.Week.of(at.date() - timedelta(days=at.weekday() + 1), at.tzinfo)


def next_moment(now: datetime, cfg: SchedulerConfig) -> datetime | None:
    """The next time of day a periodic job is due, strictly after now."""
    moments: list[datetime] = []
    if cfg.todo_at is not None:
        at = _at(now.date(), cfg.todo_at, now.tzinfo)
        moments.append(at if at > now else at + timedelta(days=1))
    if cfg.digest_at is not None:
        moments.append(_digest_moment(now, cfg) + timedelta(days=7))
    return min(moments, default=None)


def run(
    engine: Any,
    *,
    now: datetime,
    cfg: SchedulerConfig,
    town: str,
    charts: Path | None,
) -> list[str]:
    """Run whatever periodic job is due and not yet done; the periods run."""
    started = started_at(engine, now)
    ran: list[str] = []
    for job in due_jobs(now, cfg, started):
        if _done(engine, job):
            continue
        try:
            with Session(engine, expire_on_commit=False) as session:
                # The claim: a second instance fails here and skips.
                schedule.claim_job(session=session, job=job.job, period=job.period, at=now)
                if job.job == "todo":
                    todo(session, now=now, due=job.at, period=job.period)
                else:
                    weekly(
                        session, now=now, due=job.at, period=job.period, town=town, charts=charts
                    )
                session.commit()
            ran.append(f"{job.job} {job.period}")
        except IntegrityError:  # another instance claimed it a moment ago
            log.info("%s %s done by another instance", job.job, job.period)
    return ran


def _done(engine: Any, job: Due) -> bool:
    with Session(engine) as session:
        return schedule.job_done(session=session, job=job.job, period=job.period)


def todo(session: Session, *, now: datetime, due: datetime, period: str) -> int:
    """每日待办: each person with open issues gets one list, overdue first."""
    directory = GridSnapshot.load(session)
    rows = issues.open_with_owner(session=session)
    by_owner: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        by_owner[r.owner_id].append(r)
    out: list[dict[str, Any]] = []
    for owner_id, items in by_owner.items():
        if directory.owner(owner_id) is None:
            continue
        # Already ordered by due time, so the overdue ones come first by themselves.
        lines = [texts.TODO_HEADER.format(count=len(items))]
        for r in items[:TODO_LIMIT]:
            late = (
                texts.TODO_LATE.format(days=max(1, (now - r.due_at).days)) if r.due_at < now else ""
            )
            lines.append(
                texts.TODO_ITEM.format(
                    n=r.number,
                    kind=r.kind,
                    summary=short(r.text, 20),
                    due=texts.when(r.due_at, now.tzinfo),
                    late=late,
                )
            )
        if len(items) > TODO_LIMIT:
            lines.append(texts.TODO_MORE.format(count=len(items) - TODO_LIMIT))
        out.append(
            schedule.reminder_row(
                key=f"todo:{period}>{owner_id}",
                person_id=owner_id,
                stage="todo",
                due_at=due,
                created_at=now,
                text="\n".join(lines),
            )
        )
    out += _unanswered_cards(session, now=now, due=due, period=period)
    out += _visits_todo(session, now=now, due=due, period=period)
    schedule.owe(session=session, rows=out)
    return len(out)


def _unanswered_cards(
    session: Session, *, now: datetime, due: datetime, period: str
) -> list[dict[str, Any]]:
    """Triage cards nobody answered in 4 hours go into their village 书记's to-do: an unsure
    post is never left with one person who does not look (handlers/triage.py)."""
    # The cards of the last two weeks (older unanswered posts stay in the admin's list).
    village_of: dict[int, int] = {}
    for key, village_id in schedule.cards_since(
        session=session, stage=triage.STAGE, since=now - CARD_WINDOW
    ):
        post_id = triage.post_id_of(key)
        if post_id is not None and village_id is not None:
            village_of[post_id] = village_id
    cards = posts.unsure_posts(
        session=session, ids=list(village_of), received_before=now - triage.UNANSWERED
    )
    by_village: dict[int, list[Any]] = defaultdict(list)
    for card in cards:
        by_village[village_of[card.id]].append(card)
    directory = GridSnapshot.load(session)
    out: list[dict[str, Any]] = []
    for village_id, items in by_village.items():
        lines = [texts.TRIAGE_TODO_HEADER.format(count=len(items))]
        for c in items[:TODO_LIMIT]:
            received = (
                c.received_at if c.received_at.tzinfo else c.received_at.replace(tzinfo=now.tzinfo)
            )
            lines.append(
                texts.TRIAGE_TODO_ITEM.format(
                    post=c.id,
                    name=c.sender_name,
                    text=short(c.text, 30),
                    hours=max(4, int((now - received).total_seconds() // 3600)),
                )
            )
        out += _to_secretaries(
            directory, village_id, f"todo-triage:{period}", "\n".join(lines), due=due, now=now
        )
    return out


def weekly(
    session: Session, *, now: datetime, due: datetime, period: str, town: str, charts: Path | None
) -> int:
    """周报: each village's figures to its 书记, the villages side by side to the 镇领导."""
    directory = GridSnapshot.load(session)
    assert now.tzinfo is not None
    week = digest.Week.parse(period, now.tzinfo)
    villages = people.active_villages(session=session)
    figures = [digest.village_figures(session, v, week) for v in villages]
    out: list[dict[str, Any]] = []
    for village, f in zip(villages, figures, strict=True):
        assert village.id is not None
        secretaries = directory.secretaries.get(village.id, [])
        if not secretaries:
            continue
        image = None
        if charts is not None:
            from scheduler.chart import village_chart

            image = str(village_chart(f, charts / f"{period}-village{village.id}.png"))
        text = digest.village_text(f) + digest.votes_and_visits_text(
            session, village_id=village.id, week=week, now=now
        )
        for p in secretaries:
            out.append(
                schedule.reminder_row(
                    key=f"digest:{period}:{village.id}>{p.id}",
                    person_id=p.id or 0,
                    stage="digest",
                    due_at=due,
                    created_at=now,
                    text=text,
                    image=image,
                )
            )
    if directory.leaders and figures:
        image = None
        if charts is not None:
            from scheduler.chart import town_chart

            image = str(town_chart(figures, town, charts / f"{period}-town.png"))
        text = digest.town_text(figures, town, week)
        for p in directory.leaders:
            out.append(
                schedule.reminder_row(
                    key=f"town_digest:{period}>{p.id}",
                    person_id=p.id or 0,
                    stage="town_digest",
                    due_at=due,
                    created_at=now,
                    text=text,
                    image=image,
                )
            )
    schedule.owe(session=session, rows=out)
    return len(out)


# --- 议事 and 回访 (issue 19) -------------------------------------------------------------------


def votes_and_visits(
    engine: Any, *, now: datetime, after: dict[str, timedelta], quiet: bool
) -> int:
    """Every sweep: the votes whose deadline has come are counted and announced
    (handlers.votes.close_due); visits are planned from the matters closed or rated 不满意
    since the last sweep, and the owners of those fallen due are told (handlers.visits). The
    number of messages queued for people (results go to the groups)."""
    with session_scope(engine) as session:
        closed = votes.close_due(session, now=now)
        visits.plan(session, now=now, after=after)
        owed = visits.reminders(session, now=now)
        told = settle(session, now=now, owed=owed, quiet=quiet) if owed else 0
    return told + closed


def votes_and_visits_moment(engine: Any, now: datetime) -> datetime | None:
    """The next vote deadline or visit falling due after now (scripts' clocks stop there)."""
    with Session(engine) as session:
        moments = [
            m
            for m in (
                vote_rows.next_deadline(session=session, after=now),
                visit_rows.next_due(session=session, after=now),
            )
            if m is not None
        ]
    return min((m if m.tzinfo else m.replace(tzinfo=now.tzinfo) for m in moments), default=None)


def _visits_todo(
    session: Session, *, now: datetime, due: datetime, period: str
) -> list[dict[str, Any]]:
    """The daily to-do's 回访: each owner's visits due by the end of today; each 书记 the visits
    done yesterday in the village."""
    directory = GridSnapshot.load(session)
    today = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    by_owner: dict[int, list[Any]] = defaultdict(list)
    for visit, issue in visit_rows.due(session=session, now=today + timedelta(days=1)):
        if issue.owner_id is not None and directory.owner(issue.owner_id) is not None:
            by_owner[issue.owner_id].append((visit, issue))
    out: list[dict[str, Any]] = []
    for owner_id, items in by_owner.items():
        lines = [texts.VISIT_TODO_HEADER.format(count=len(items))]
        lines += [
            texts.VISIT_TODO_ITEM.format(
                n=issue.number,
                kind=issue.kind,
                summary=short(issue.text, 20),
                due=texts.when(_local(visit.due_at, now), now.tzinfo),
            )
            for visit, issue in items[:TODO_LIMIT]
        ]
        out.append(
            schedule.reminder_row(
                key=f"todo-visit:{period}>{owner_id}",
                person_id=owner_id,
                stage="todo",
                due_at=due,
                created_at=now,
                text="\n".join(lines),
            )
        )
    done: dict[int, list[Any]] = defaultdict(list)
    for visit, issue in visit_rows.done_between(
        session=session, start=today - timedelta(days=1), end=today
    ):
        done[issue.village_id].append((visit, issue))
    for village_id, items in done.items():
        lines = [texts.VISIT_DONE_HEADER.format(count=len(items))]
        lines += [
            texts.VISIT_DONE_ITEM.format(
                n=issue.number, name=visit.done_by or "", note=short(visit.note or "", 30)
            )
            for visit, issue in items[:TODO_LIMIT]
        ]
        out += _to_secretaries(
            directory, village_id, f"todo-visited:{period}", "\n".join(lines), due=due, now=now
        )
    return out


def _to_secretaries(
    directory: GridSnapshot, village_id: int, key: str, text: str, *, due: datetime, now: datetime
) -> list[dict[str, Any]]:
    """A to-do item for each 书记 of the village (`key` names the item and the day)."""
    return [
        schedule.reminder_row(
            key=f"{key}>{who.id}",
            person_id=who.id,
            stage="todo",
            due_at=due,
            created_at=now,
            text=text,
        )
        for who in directory.secretaries.get(village_id, [])
    ]


def _local(at: datetime, now: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=now.tzinfo)
