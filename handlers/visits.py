"""访事查事 (回访): after a 户里事 or 邻里事 is closed, its owner visits the household and records
it (`回访 12 已上门，没再吵`).

A visit is planned from the issue's events, by the scheduler (`plan`, every sweep): a "closed"
event plans one N days later (per kind, `[visits]` of the grid file, default 7 days), a 不满意
rating brings it forward to the next day. Planning reads the events since the last planning
(with an overlap, each event planning at most once), so nothing in the close or rating path
needs to know about visits. When a visit falls due its owner is told (`reminders`); due and
done visits also go in the daily to-do and the weekly digest (scheduler/periodic.py).

```toml
[visits]          # 回访：办结后几天提醒负责人上门，可省略（默认 7 天）
户里事 = "7d"
邻里事 = "3d"
```
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from handlers import actions, texts
from handlers.actions import TEXT_LIMIT, Actor, Ctx, Outcome, refuse
from handlers.privacy import short
from storage import schedule, visits
from storage.grid import Grid, GridError, parse_duration
from storage.models import Kind, Rating, Status

VISIT_KINDS = (Kind.HOUSEHOLD, Kind.NEIGHBOUR)
DEFAULT_AFTER = timedelta(days=7)
UNSATISFIED_AFTER = timedelta(days=1)  # a 不满意 rating: visit the next day
OVERLAP = timedelta(minutes=10)  # events committed late by another transaction are still seen
STAGE = "visit"
GRID_KEY = "visits"


def default_delays() -> dict[str, timedelta]:
    return {kind.value: DEFAULT_AFTER for kind in VISIT_KINDS}


def delays(grid: Grid) -> dict[str, timedelta]:
    """Days after closing, per kind: `[visits]` of the grid file over the default."""
    raw = grid.extra.get(GRID_KEY) or {}
    if not isinstance(raw, dict):
        raise GridError(GRID_KEY, '应写成 [visits] 表，如 户里事 = "7d"')
    out = default_delays()
    for kind, value in raw.items():
        if kind not in out:
            raise GridError(f"{GRID_KEY}.{kind}", "只有户里事、邻里事需要回访")
        dur = parse_duration(str(value))
        if dur is None or dur <= timedelta(0):
            raise GridError(f"{GRID_KEY}.{kind}", f"时间 '{value}' 应写成 7d、3d 这样")
        out[kind] = dur
    return out


def _aware(at: datetime, tz: Any) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)  # SQLite gives naive back


def plan(session: Session, *, now: datetime, after: dict[str, timedelta]) -> int:
    """Plan the visits of the matters closed, and bring forward those rated 不满意, since the
    last planning. The number of visits planned or moved."""
    until = visits.scanned_until(session=session)
    if until is None:  # first planning: the matters closed within the longest delay still get one
        since = now - max(after.values(), default=DEFAULT_AFTER) - UNSATISFIED_AFTER
    else:
        since = datetime.fromtimestamp(until, tz=now.tzinfo) - OVERLAP
    changed = 0
    for ev in visits.closings(session=session, since=since, kinds=list(after)):
        at = _aware(ev.at, now.tzinfo)
        if visits.planned_from(session=session, source_event=ev.id) is not None:
            continue
        waiting = visits.pending(session=session, issue_id=ev.issue_id)
        if ev.kind == "closed":
            if waiting is None:
                visits.add_visit(
                    session=session,
                    issue_id=ev.issue_id,
                    source_event=ev.id,
                    reason="closed",
                    due_at=at + after[ev.issue_kind],
                    created_at=now,
                )
                changed += 1
            continue
        if ev.detail != Rating.UNSATISFIED:
            continue
        if visits.done_since(session=session, issue_id=ev.issue_id, since=at):
            continue
        sooner = at + UNSATISFIED_AFTER
        if waiting is None:
            visits.add_visit(
                session=session,
                issue_id=ev.issue_id,
                source_event=ev.id,
                reason="unsatisfied",
                due_at=sooner,
                created_at=now,
            )
            changed += 1
        elif _aware(waiting.due_at, now.tzinfo) > sooner:
            visits.move_earlier(session=session, visit=waiting, due_at=sooner, reason="unsatisfied")
            changed += 1
    visits.set_scanned(session=session, until=int(now.timestamp()))
    return changed


def reminders(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    """What each owner is owed for the visits fallen due (Reminder rows of stage "visit")."""
    out: list[dict[str, Any]] = []
    for visit, issue in visits.unreminded_due(session=session, now=now):
        visits.mark_reminded(session=session, visit=visit, at=now)
        if issue.owner_id is None:
            continue
        if visit.reason == "unsatisfied":
            text = texts.VISIT_DUE_UNSATISFIED.format(n=issue.number, kind=issue.kind)
        else:
            closed = issue.closed_at or visit.created_at
            text = texts.VISIT_DUE.format(
                n=issue.number,
                kind=issue.kind,
                summary=short(issue.text, 20),
                when=texts.when(_aware(closed, now.tzinfo), now.tzinfo),
                result=short(issue.result or "", 30),
            )
        due = _aware(visit.due_at, now.tzinfo)
        out.append(
            schedule.reminder_row(
                key=f"visit:{visit.id}:{due.isoformat()}",
                person_id=issue.owner_id,
                stage=STAGE,
                due_at=due,
                created_at=now,
                text=text,
                issue_id=issue.id,
            )
        )
    return out


def record(ctx: Ctx, issue: Any, actor: Actor, note: str) -> Outcome:
    """回访 12 已上门，没再吵: the owner (or the 书记, a 镇领导) records the visit."""
    if r := actions.grid_refusal(ctx, actor, issue, texts.ACT_VISIT):
        return r
    if not actions.can_finish(actor, issue):
        return refuse(
            texts.ONLY_OWNER.format(
                n=issue.number, owner=actions.owner_name(ctx, issue), action=texts.ACT_VISIT
            )
        )
    if issue.kind not in VISIT_KINDS:
        return refuse(texts.VISIT_KINDS_ONLY.format(n=issue.number, kind=issue.kind))
    note = note.strip()
    if not note:
        return refuse(texts.VISIT_NEEDS_TEXT.format(n=issue.number))
    if len(note) > TEXT_LIMIT:
        return refuse(texts.ARGS_TOO_LONG.format(limit=TEXT_LIMIT))
    visit = visits.pending(session=ctx.session, issue_id=issue.id)
    if visit is None:
        # Visited before the scheduler planned it (or again): it follows the latest closing.
        closing = visits.last_closing(session=ctx.session, issue_id=issue.id)
        if issue.status != Status.CLOSED or closing is None:
            return refuse(texts.VISIT_NOT_YET.format(n=issue.number))
        if visits.planned_from(session=ctx.session, source_event=closing) is None:
            visits.add_visit(
                session=ctx.session,
                issue_id=issue.id,
                source_event=closing,
                reason="closed",
                due_at=ctx.now,
                created_at=ctx.now,
            )
        visit = visits.planned_from(session=ctx.session, source_event=closing)
    if visit is not None and visit.done_at is None:
        visits.mark_done(session=ctx.session, visit=visit, at=ctx.now, by=actor.label, note=note)
    actions.event(ctx, issue, "visit", actor.label, note)
    return Outcome(True, texts.VISIT_OK.format(n=issue.number))
