"""Figures: the statistics of the 统计 page and the API (by week, village, kind and person),
the reads of the weekly digest (scheduler/digest.py), and 办结率, defined once below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from storage.models import ACTIVE_STATUSES, Event, Issue, Status
from storage.search import dialect

# --- 办结率 (closure rate) -----------------------------------------------------------------------
# One definition, the one a 书记 reports upward ("收集157件，办结151件，6件在办，办结率96%"):
# of the matters registered (受理) in the period, less those withdrawn (撤回: nothing to
# handle), the share closed, counted as they stood at the period's end (for a period still
# running: now). The 统计 page, the API, the weekly digest and its chart all call this, so the
# same week shows the same figure everywhere; and because it is taken at the period's end, a
# week's figure does not change later (the digest sent on Monday still agrees with the page a
# month on). Closings in the period of matters registered before it are counted separately
# (`Figures.closed`) and never enter the rate.


def closure_rate(*, registered: int, closed: int, withdrawn: int) -> float | None:
    """办结率: `closed` of the `registered` matters less the `withdrawn` ones (both counted at
    the period's end). None when nothing is left to count."""
    base = registered - withdrawn
    return closed / base if base > 0 else None


# --- statistics ------------------------------------------------------------------------------


@dataclass
class Figures:
    """One row of the statistics: a week, a village, a kind or a person."""

    new: int = 0
    closed: int = 0  # closed in the period (registered in it or before)
    closed_of_new: int = 0  # of those registered in the period, closed by its end
    withdrawn_of_new: int = 0  # of those registered in the period, withdrawn by its end
    on_time: int = 0  # closed in the period, by the due time
    rated: int = 0
    satisfied: int = 0  # 满意
    fair: int = 0  # 基本满意
    unsatisfied: int = 0
    levels: dict[str, int] = field(default_factory=dict)  # group/village/town of closed ones
    open_now: int = 0
    overdue_now: int = 0

    @property
    def closure_rate(self) -> float | None:  # 办结率, see closure_rate above
        return closure_rate(
            registered=self.new, closed=self.closed_of_new, withdrawn=self.withdrawn_of_new
        )

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.closed if self.closed else None

    @property
    def satisfaction(self) -> float | None:  # (满意 + 基本满意) / rated
        return (self.satisfied + self.fair) / self.rated if self.rated else None


@dataclass
class Stats:
    start: datetime
    end: datetime
    weeks: list[datetime]
    total: Figures
    by_week: dict[int, Figures]  # week index → figures
    by_village: dict[int, Figures]
    by_kind: dict[str, Figures]
    by_person: dict[int, Figures]
    by_week_village: dict[tuple[int, int], Figures]


def _week_index(session: Session, column_: Any, start: datetime) -> Any:
    """Whole weeks between `start` and the column's time, in SQL."""
    if dialect(session) == "postgresql":
        seconds = func.extract("epoch", column_) - start.timestamp()
    else:
        seconds = func.unixepoch(column_) - start.timestamp()
    return func.floor(seconds / (7 * 86400))


def stats(
    *,
    session: Session,
    start: datetime,
    weeks: int,
    villages: tuple[int, ...] | None,
    now: datetime,
) -> Stats:
    """Figures for `weeks` weeks from `start` (a Monday 00:00, local time), by week, village,
    kind and person. Registered and closed counts come from the issues' own times."""
    end = start + timedelta(weeks=weeks)
    scope = [col(Issue.village_id).in_(villages)] if villages is not None else []
    out = Stats(
        start=start,
        end=end,
        weeks=[start + timedelta(weeks=i) for i in range(weeks)],
        total=Figures(),
        by_week={i: Figures() for i in range(weeks)},
        by_village={},
        by_kind={},
        by_person={},
        by_week_village={},
    )

    def period_buckets(village: int, kind: str, owner: int | None) -> list[Figures]:
        found = [out.total, out.by_village.setdefault(village, Figures())]
        found.append(out.by_kind.setdefault(kind, Figures()))
        if owner is not None:
            found.append(out.by_person.setdefault(owner, Figures()))
        return found

    def week_buckets(week: int, village: int) -> list[Figures]:
        return [
            out.by_week.setdefault(week, Figures()),
            out.by_week_village.setdefault((week, village), Figures()),
        ]

    def buckets(week: int | None, village: int, kind: str, owner: int | None) -> list[Figures]:
        weekly = week_buckets(week, village) if week is not None else []
        return period_buckets(village, kind, owner) + weekly

    # Closed / withdrawn "by the period's end" (see closure_rate): for the whole period, before
    # `end`; for one week's buckets, within the week it was registered in (closed_at is never
    # before created_at, so the same week index means before that week's end).
    created_week = _week_index(session, Issue.created_at, start).label("week")
    ended_week = _week_index(session, Issue.closed_at, start)

    def count(status: Status, *, by_week: bool) -> Any:
        ended = ended_week == created_week if by_week else col(Issue.closed_at) < end
        return func.sum(case((and_(col(Issue.status) == status, ended), 1), else_=0))

    for (
        week,
        village,
        kind,
        owner,
        n,
        closed,
        withdrawn,
        closed_wk,
        withdrawn_wk,
    ) in session.execute(
        sa_select(
            created_week,
            col(Issue.village_id),
            col(Issue.kind),
            col(Issue.owner_id),
            func.count(),
            count(Status.CLOSED, by_week=False),
            count(Status.WITHDRAWN, by_week=False),
            count(Status.CLOSED, by_week=True),
            count(Status.WITHDRAWN, by_week=True),
        )
        .where(col(Issue.created_at) >= start, col(Issue.created_at) < end, *scope)
        .group_by(created_week, col(Issue.village_id), col(Issue.kind), col(Issue.owner_id))
    ):
        for fig in period_buckets(village, kind, owner):
            fig.new += n
            fig.closed_of_new += int(closed or 0)
            fig.withdrawn_of_new += int(withdrawn or 0)
        for fig in week_buckets(int(week), village):
            fig.new += n
            fig.closed_of_new += int(closed_wk or 0)
            fig.withdrawn_of_new += int(withdrawn_wk or 0)

    closed_week = _week_index(session, Issue.closed_at, start).label("week")
    on_time = func.sum(case((col(Issue.closed_at) <= col(Issue.due_at), 1), else_=0))
    for week, village, kind, owner, rating, level, n, in_time in session.execute(
        sa_select(
            closed_week,
            col(Issue.village_id),
            col(Issue.kind),
            col(Issue.owner_id),
            col(Issue.rating),
            col(Issue.settled_level),
            func.count(),
            on_time,
        )
        .where(
            col(Issue.status) == Status.CLOSED,
            col(Issue.closed_at) >= start,
            col(Issue.closed_at) < end,
            *scope,
        )
        .group_by(
            closed_week,
            col(Issue.village_id),
            col(Issue.kind),
            col(Issue.owner_id),
            col(Issue.rating),
            col(Issue.settled_level),
        )
    ):
        for fig in buckets(int(week), village, kind, owner):
            fig.closed += n
            fig.on_time += int(in_time or 0)
            if level:
                fig.levels[level] = fig.levels.get(level, 0) + n
            if rating:
                fig.rated += n
                if rating == "满意":
                    fig.satisfied += n
                elif rating == "基本满意":
                    fig.fair += n
                else:
                    fig.unsatisfied += n

    late = func.sum(case((col(Issue.due_at) < now, 1), else_=0))
    for village, kind, owner, n, overdue in session.execute(
        sa_select(col(Issue.village_id), col(Issue.kind), col(Issue.owner_id), func.count(), late)
        .where(col(Issue.status).in_(ACTIVE_STATUSES), *scope)
        .group_by(col(Issue.village_id), col(Issue.kind), col(Issue.owner_id))
    ):
        for fig in buckets(None, village, kind, owner):
            fig.open_now += n
            fig.overdue_now += int(overdue or 0)
    return out


# --- the weekly digest's reads ---------------------------------------------------------------


def week_issues(
    *, session: Session, village_id: int, start: datetime, end: datetime, since: datetime
) -> list[Issue]:
    """A village's issues the digest of the week [start, end) looks at: registered before its
    end and registered since `since` (repeats), still open, or closed from its start on."""
    return list(
        session.exec(
            select(Issue).where(
                Issue.village_id == village_id,
                col(Issue.created_at) < end,
                or_(
                    col(Issue.created_at) >= since,
                    col(Issue.closed_at).is_(None),
                    col(Issue.closed_at) >= start,
                ),
            )
        ).all()
    )


def closing_events(
    *, session: Session, village_id: int, start: datetime, until: datetime
) -> list[Event]:
    """A village's "closed" and "rated" events from `start` to `until`, by issue, then time."""
    return list(
        session.exec(
            select(Event)
            .join(Issue, col(Issue.id) == col(Event.issue_id))
            .where(
                Issue.village_id == village_id,
                col(Event.kind).in_(["closed", "rated"]),
                col(Event.at) >= start,
                col(Event.at) < until,
            )
            .order_by(col(Event.issue_id), col(Event.at), col(Event.id))
        ).all()
    )


__all__ = [
    "Figures",
    "Stats",
    "closing_events",
    "closure_rate",
    "stats",
    "week_issues",
]
