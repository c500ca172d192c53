"""The weekly digest (周报): a village's figures for its 书记, the villages side by side for the
town's 镇领导.

A week is an ISO week, Monday 00:00 to the next Monday 00:00 local time. Figures use each issue's
present state (a matter reopened later counts in the week of its latest closing):
- new: registered in the week; closed: closed in the week; on time: of those, closed by due_at;
- still open: registered before the week ended and not closed or withdrawn by then;
  overdue: still open with due_at before the week ended, days late counted to the week's end;
- 办结率 (closure rate), as everywhere (storage.figures.closure_rate): of the matters registered
  in the week, less those withdrawn by its end, the share closed by its end; on-time rate =
  on time ÷ closed;
- satisfaction, per closing in the week: 满意 / 基本满意 / 不满意, or 未评价 when the reporter
  gave no rating within 3 days of it (an 不满意 reopens the matter and still counts);
- level settled (组/村/镇) of the closed;
- repeat matters: same group and kind, the same matter as duplicate detection judges it
  (classifier.duplicates: the same things, trouble, place and household) whether or not it
  says it happened again, 2 or more in the 30 days to the week's end, the latest in the week.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlmodel import Session

from classifier.duplicates import THRESHOLD as SAME_MATTER
from classifier.duplicates import Report, similarity
from handlers import texts
from handlers.actions import RATING_WINDOW
from handlers.privacy import mask, short
from storage import people
from storage import visits as visit_rows
from storage import votes as vote_rows
from storage.figures import closing_events, closure_rate, week_issues
from storage.models import KINDS, Issue, Level, Rating, Status, Village

REPEAT_WINDOW = timedelta(days=30)
LIST_LIMIT = 15
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True)
class Week:
    year: int
    week: int
    start: datetime  # Monday 00:00 local
    end: datetime  # next Monday 00:00 local

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @classmethod
    def of(cls, day: date, tz: tzinfo) -> Week:
        year, week, _ = day.isocalendar()
        return cls.parse(f"{year}-W{week}", tz)

    @classmethod
    def parse(cls, text: str, tz: tzinfo) -> Week:
        m = _WEEK.match(text.strip())
        if not m:
            raise ValueError(f"周应写成 2026-W48，不是“{text}”")
        year, week = int(m.group(1)), int(m.group(2))
        try:
            monday = date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise ValueError(f"{year}年没有第{week}周") from exc
        start = datetime(monday.year, monday.month, monday.day, tzinfo=tz)
        return cls(year, week, start, start + timedelta(days=7))


@dataclass(frozen=True)
class Overdue:
    number: int
    kind: str
    summary: str
    owner: str
    days: int
    village: str = ""


@dataclass(frozen=True)
class Repeat:
    group: str
    kind: str
    summary: str
    numbers: tuple[int, ...]


@dataclass
class Figures:
    place: str
    week: Week
    new: int = 0
    closed: int = 0
    on_time: int = 0
    open: int = 0
    overdue: int = 0
    # For 办结率: of the week's new matters, those closed / withdrawn by the week's end.
    closed_of_new: int = 0
    withdrawn_of_new: int = 0
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    satisfaction: dict[str, int] = field(default_factory=dict)
    levels: dict[str, int] = field(default_factory=dict)
    overdue_list: list[Overdue] = field(default_factory=list)
    repeats: list[Repeat] = field(default_factory=list)
    escalated: list[Overdue] = field(default_factory=list)  # still open at town level

    @property
    def closure_rate(self) -> float | None:  # 办结率, see storage.figures.closure_rate
        return closure_rate(
            registered=self.new, closed=self.closed_of_new, withdrawn=self.withdrawn_of_new
        )

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.closed if self.closed else None

    @property
    def rated(self) -> int:
        return sum(v for k, v in self.satisfaction.items() if k != UNRATED)


UNRATED = "未评价"
RATINGS = frozenset(r.value for r in Rating)


def village_figures(session: Session, village: Village, week: Week) -> Figures:
    start, end = week.start, week.end
    assert village.id is not None
    issues = week_issues(
        session=session, village_id=village.id, start=start, end=end, since=end - REPEAT_WINDOW
    )
    names = {p.id: p.name for p in people.all_people(session=session)}
    groups = {g.id: g.name for g in people.all_groups(session=session)}
    f = Figures(place=village.name, week=week)
    f.by_kind = {k.value: {"new": 0, "closed": 0, "open": 0} for k in KINDS}
    f.satisfaction = {r.value: 0 for r in Rating} | {UNRATED: 0}
    f.levels = {lv.value: 0 for lv in Level}
    for i in issues:
        kind = f.by_kind.setdefault(i.kind, {"new": 0, "closed": 0, "open": 0})
        if start <= i.created_at < end:
            f.new += 1
            kind["new"] += 1
            ended = i.closed_at is not None and i.closed_at < end
            f.closed_of_new += ended and i.status == Status.CLOSED
            f.withdrawn_of_new += ended and i.status == Status.WITHDRAWN
        if i.status == Status.CLOSED and i.closed_at and start <= i.closed_at < end:
            f.closed += 1
            kind["closed"] += 1
            f.on_time += i.closed_at <= i.due_at
            f.levels[i.settled_level or Level.GROUP] += 1
        if i.closed_at is None or i.closed_at >= end:
            f.open += 1
            kind["open"] += 1
            owner = names.get(i.owner_id, texts.NO_OWNER) if i.owner_id else texts.NO_OWNER
            if i.due_at < end:
                f.overdue += 1
                days = max(1, (end - i.due_at).days)
                item = Overdue(i.number, i.kind, short(i.text, 20), owner, days, village.name)
                f.overdue_list.append(item)
            if i.level == Level.TOWN:
                days = max(1, (end - i.due_at).days) if i.due_at < end else 0
                f.escalated.append(
                    Overdue(i.number, i.kind, short(i.text, 20), owner, days, village.name)
                )
    for rating in closing_ratings(session, village.id, week):
        f.satisfaction[rating] += 1
    f.overdue_list.sort(key=lambda o: (-o.days, o.number))
    f.escalated.sort(key=lambda o: (-o.days, o.number))
    f.repeats = repeats(
        [i for i in issues if i.created_at >= end - REPEAT_WINDOW], groups, start=start
    )
    return f


def closing_ratings(session: Session, village_id: int, week: Week) -> list[str]:
    """The rating each closing of the week got: the reporter's first rating within 3 days of it
    (before the matter was closed again), else 未评价. Counted per closing, not per matter, so
    an 不满意 (which reopens the matter) stays counted after the matter is closed again."""
    events = closing_events(
        session=session, village_id=village_id, start=week.start, until=week.end + RATING_WINDOW
    )
    out: list[str] = []
    for n, e in enumerate(events):
        if e.kind != "closed" or not week.start <= e.at < week.end:
            continue
        rating = UNRATED
        for later in events[n + 1 :]:
            if later.issue_id != e.issue_id or later.kind == "closed":
                break
            if later.at - e.at <= RATING_WINDOW and later.detail in RATINGS:
                rating = later.detail
                break
        out.append(rating)
    return out


def _report(text: str) -> Report:
    """What duplicate detection reads of a text, less its "not again" test: a matter reported
    anew after it was closed ("第三次停电了") is exactly what the repeat list counts."""
    report = copy.copy(Report(text))
    report.again = False
    return report


def similar(earlier: str, later: str) -> bool:
    """The same matter, as classifier.duplicates judges two reports (things, trouble, place,
    household, overlap), whether or not the later one says it happened again."""
    return _similar(_report(earlier), _report(later))


def _similar(earlier: Report, later: Report) -> bool:
    # Duplicate detection compares a new post with a registered matter: earlier, then later.
    return similarity(earlier, later) >= SAME_MATTER


def repeats(issues: list[Issue], groups: dict[Any, str], *, start: datetime) -> list[Repeat]:
    """Clusters of similar matters of one group and kind (two or more), whose latest was
    registered in the week."""
    buckets: dict[tuple[int, str], list[Issue]] = {}
    for i in sorted(issues, key=lambda i: (i.created_at, i.number)):
        if i.group_id is not None:
            buckets.setdefault((i.group_id, i.kind), []).append(i)
    found: list[Repeat] = []
    for (group_id, kind), members in buckets.items():
        clusters: list[list[tuple[Issue, Report]]] = []
        for issue in members:
            report = _report(issue.text)
            home = next((c for c in clusters if any(_similar(o, report) for _, o in c)), None)
            if home is None:
                clusters.append([(issue, report)])
            else:
                home.append((issue, report))
        for cluster in clusters:
            c = [i for i, _ in cluster]
            if len(c) >= 2 and c[-1].created_at >= start:
                found.append(
                    Repeat(
                        groups.get(group_id, ""),
                        kind,
                        short(c[-1].text, 20),
                        tuple(i.number for i in c),
                    )
                )
    return sorted(found, key=lambda r: (-len(r.numbers), r.numbers))


def town_figures(session: Session, week: Week) -> list[Figures]:
    villages = people.active_villages(session=session)
    return [village_figures(session, v, week) for v in villages]


def percent(share: float | None) -> str:
    return texts.RATE_NONE if share is None else f"{round(share * 100)}%"


def closure_text(f: Figures) -> str:
    """办结率 with what it counts, so that it is not read as 办结 ÷ 新增 of the line above."""
    if f.closure_rate is None:
        return percent(None)
    return texts.DIGEST_CLOSURE_OF.format(
        rate=percent(f.closure_rate), base=f.new - f.withdrawn_of_new, closed=f.closed_of_new
    )


def _title(place: str, week: Week) -> str:
    last = week.end - timedelta(days=1)
    return texts.DIGEST_TITLE.format(
        place=place,
        year=week.year,
        week=week.week,
        start=f"{week.start.month}月{week.start.day}日",
        end=f"{last.month}月{last.day}日",
    )


def _more(lines: list[str], items: list[str]) -> None:
    lines.extend(items[:LIST_LIMIT])
    if len(items) > LIST_LIMIT:
        lines.append(texts.DIGEST_MORE.format(count=len(items) - LIST_LIMIT))


def village_text(f: Figures) -> str:
    lines = [
        _title(f.place, f.week),
        texts.DIGEST_COUNTS.format(
            new=f.new, closed=f.closed, on_time=f.on_time, open=f.open, overdue=f.overdue
        ),
        texts.DIGEST_RATES.format(closure=closure_text(f), on_time=percent(f.on_time_rate)),
        texts.DIGEST_BY_KIND.format(
            items="；".join(
                texts.DIGEST_KIND_ITEM.format(kind=k, **v)
                for k, v in f.by_kind.items()
                if k in {x.value for x in KINDS} or any(v.values())
            )
        ),
        texts.DIGEST_SATISFACTION.format(
            satisfied=f.satisfaction[Rating.SATISFIED],
            fair=f.satisfaction[Rating.FAIR],
            unsatisfied=f.satisfaction[Rating.UNSATISFIED],
            unrated=f.satisfaction[UNRATED],
        ),
        texts.DIGEST_LEVELS.format(**f.levels),
    ]
    if f.overdue_list:
        lines.append(texts.DIGEST_OVERDUE_HEADER.format(count=len(f.overdue_list)))
        _more(
            lines,
            [
                texts.DIGEST_OVERDUE_ITEM.format(
                    n=o.number, kind=o.kind, summary=o.summary, owner=o.owner, days=o.days
                )
                for o in f.overdue_list
            ],
        )
    if f.repeats:
        lines.append(texts.DIGEST_REPEAT_HEADER)
        _more(
            lines,
            [
                texts.DIGEST_REPEAT_ITEM.format(
                    group=r.group,
                    kind=r.kind,
                    summary=r.summary,
                    count=len(r.numbers),
                    numbers=" ".join(f"#{n}" for n in r.numbers),
                )
                for r in f.repeats
            ],
        )
    return mask("\n".join(lines))


def total(figures: list[Figures], place: str, week: Week) -> Figures:
    t = Figures(place=place, week=week)
    t.satisfaction = dict.fromkeys([*(r.value for r in Rating), UNRATED], 0)
    t.levels = dict.fromkeys([lv.value for lv in Level], 0)
    for f in figures:
        t.new += f.new
        t.closed += f.closed
        t.on_time += f.on_time
        t.open += f.open
        t.overdue += f.overdue
        t.closed_of_new += f.closed_of_new
        t.withdrawn_of_new += f.withdrawn_of_new
        for k, v in f.satisfaction.items():
            t.satisfaction[k] = t.satisfaction.get(k, 0) + v
        for k, v in f.levels.items():
            t.levels[k] = t.levels.get(k, 0) + v
        t.escalated.extend(f.escalated)
    return t


def _row(f: Figures, name: str) -> str:
    return texts.TOWN_DIGEST_ROW.format(
        village=name,
        new=f.new,
        closed=f.closed,
        on_time=f.on_time,
        open=f.open,
        overdue=f.overdue,
        closure=percent(f.closure_rate),
        on_time_rate=percent(f.on_time_rate),
        satisfied=f.satisfaction.get(Rating.SATISFIED, 0),
        rated=f.rated,
    )


def town_text(figures: list[Figures], town: str, week: Week) -> str:
    t = total(figures, town, week)
    levels_total = sum(t.levels.values())
    lines = [
        _title(town, week),
        texts.TOWN_DIGEST_ROWS,
        *(_row(f, f.place) for f in figures),
        _row(t, texts.TOWN_DIGEST_TOTAL),
        texts.DIGEST_LEVELS.format(
            **{
                k: f"{v}（{percent(v / levels_total if levels_total else None)}）"
                for k, v in t.levels.items()
            }
        ),
    ]
    if t.escalated:
        lines.append(texts.TOWN_ESCALATED_HEADER.format(count=len(t.escalated)))
        _more(
            lines,
            [
                texts.TOWN_ESCALATED_ITEM.format(
                    village=o.village,
                    n=o.number,
                    kind=o.kind,
                    summary=o.summary,
                    owner=o.owner,
                    days=o.days,
                )
                for o in sorted(t.escalated, key=lambda o: (-o.days, o.number))
            ],
        )
    return mask("\n".join(lines))


# --- 议事 and 回访 (issue 19) -------------------------------------------------------------------


def votes_and_visits_text(session: Session, *, village_id: int, week: Week, now: datetime) -> str:
    """The weekly digest's lines on the week's votes and visits (empty when there were none)."""
    lines: list[str] = []
    closed = vote_rows.closed_between(
        session=session, village_id=village_id, start=week.start, end=week.end
    )
    if closed:
        items = []
        for vote, number in closed:
            result = json.loads(vote.result or "{}")
            counts = result.get("counts") or []
            items.append(
                texts.DIGEST_VOTE_ITEM.format(
                    n=number,
                    question=short(vote.question, 20),
                    top=vote_outcome(vote_rows.choices_of(vote), counts),
                    voters=result.get("voters", 0),
                )
            )
        lines.append(texts.DIGEST_VOTES.format(count=len(closed), items="；".join(items)))
    done = visit_rows.done_between(
        session=session, start=week.start, end=week.end, village_id=village_id
    )
    pending = visit_rows.counts(session=session, now=now, village_id=village_id)
    if done or pending["due"]:
        lines.append(texts.DIGEST_VISITS.format(done=len(done), due=pending["due"]))
    return "".join("\n" + line for line in lines)


def vote_outcome(choices: list[str], counts: list[int]) -> str:
    """A vote's outcome in a few words: the choice most voted for and its votes; a tie names
    the tied choices (no winner is made up); no ballot at all says so."""
    if not counts or max(counts) == 0:
        return texts.VOTE_NO_BALLOTS
    most = max(counts)
    tied = [c for c, n in zip(choices, counts, strict=False) if n == most]
    if len(tied) > 1:
        return texts.VOTE_TIE.format(choices="、".join(tied), count=most)
    return texts.VOTE_RESULT_ITEM.format(choice=tied[0], count=most)
