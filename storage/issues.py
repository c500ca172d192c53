"""Issues: the admin list (filters, order, counts), one issue and its timeline, and the
statements the handlers and the scheduler's sweep run on issues and their events.

The list shows the newest matters first; every filter column has an index ending in
(created_at, id) (migration 0004), so a filter and the order are served by one index walk.
Text search finds any substring: see `storage.search`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    case,
    false,
    func,
    insert,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel, col
from sqlmodel import select as select_models

from storage import writes
from storage.bulk import among, insert_rows, update_rows
from storage.models import (
    ACTIVE_STATUSES,
    ChatGroup,
    Counter,
    Event,
    Issue,
    IssueTally,
    Person,
    Status,
    Village,
    is_active,
)
from storage.search import Reader, dialect, many_matches, readable, search_condition

ACTIVE = "active"  # status filter value: open or claimed (未办结)
SORTS = ("new", "old", "due")
MAX_TERMS = 5


@dataclass(frozen=True)
class IssueFilter:
    """What the list, the export and the API select. `villages` is the viewer's scope
    (None: the whole town); `reader` who searches (None: a reader of every text); the other
    fields are what the person chose."""

    villages: tuple[int, ...] | None = None
    number: int | None = None
    village_id: int | None = None
    group_id: int | None = None
    kind: str | None = None
    status: str | None = None  # open, claimed, closed, withdrawn, or ACTIVE
    owner_id: int | None = None
    overdue: bool = False
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    text: str = ""
    sort: str = "new"
    reader: Reader | None = None

    def terms(self) -> list[str]:
        return [t for t in self.text.split() if t][:MAX_TERMS]


COUNT_CAP = 2000  # filters the tally cannot answer are counted this far, then "2000+"


@dataclass
class Counts:
    """The figures on top of the list, for the current filter. `capped`: there are more than
    COUNT_CAP and the figures are those of the first ones found."""

    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    capped: bool = False

    @property
    def active(self) -> int:
        return sum(self.by_status.get(s, 0) for s in ACTIVE_STATUSES)


def is_overdue(now: datetime) -> ColumnElement[bool]:
    return and_(col(Issue.status).in_(ACTIVE_STATUSES), col(Issue.due_at) < now)


# --- the list --------------------------------------------------------------------------------


def conditions(
    session: Session, f: IssueFilter, now: datetime, *, indexed: bool = True
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.villages is not None:
        where.append(col(Issue.village_id).in_(f.villages) if f.villages else false())
    if f.number is not None:
        where.append(col(Issue.number) == f.number)
    if f.village_id is not None:
        where.append(col(Issue.village_id) == f.village_id)
    if f.group_id is not None:
        where.append(col(Issue.group_id) == f.group_id)
    if f.kind:
        where.append(col(Issue.kind) == f.kind)
    if f.status == ACTIVE:
        where.append(col(Issue.status).in_(ACTIVE_STATUSES))
    elif f.status:
        where.append(col(Issue.status) == f.status)
    if f.owner_id is not None:
        where.append(col(Issue.owner_id) == f.owner_id)
    if f.overdue:
        where.append(is_overdue(now))
    if f.created_from is not None:
        where.append(col(Issue.created_at) >= f.created_from)
    if f.created_to is not None:
        where.append(col(Issue.created_at) < f.created_to)
    if f.terms():
        where.append(search_condition(session, f.terms(), indexed=indexed))
        # Words must not tell what an issue says to someone who may not read it.
        if (scope := readable(f.reader)) is not None:
            where.append(scope)
    return where


def _order(sort: str) -> list[Any]:
    if sort == "old":
        return [col(Issue.created_at), col(Issue.id)]
    if sort == "due":
        return [col(Issue.due_at), col(Issue.id)]
    return [col(Issue.created_at).desc(), col(Issue.id).desc()]


Owner = aliased(Person, name="owner")


def _rows_query(session: Session, f: IssueFilter, now: datetime, *, indexed: bool = True) -> Any:
    return (
        select(
            col(Issue.id),
            col(Issue.number),
            col(Issue.village_id),
            col(Issue.group_id),
            col(Issue.kind),
            col(Issue.text),
            col(Issue.reporter),
            col(Issue.reporter_name),
            col(Issue.status),
            col(Issue.created_at),
            col(Issue.due_at),
            col(Issue.claimed_at),
            col(Issue.closed_at),
            col(Issue.result),
            col(Issue.rating),
            col(Issue.level),
            col(Issue.settled_level),
            col(Issue.reports),
            col(Issue.group_stub),
            col(Issue.owner_id),
            col(Owner.name).label("owner_name"),
            col(Village.name).label("village_name"),
            col(ChatGroup.name).label("group_name"),
        )
        .select_from(Issue)
        .outerjoin(Owner, col(Owner.id) == col(Issue.owner_id))
        .outerjoin(Village, col(Village.id) == col(Issue.village_id))
        .outerjoin(ChatGroup, col(ChatGroup.id) == col(Issue.group_id))
        .where(*conditions(session, f, now, indexed=indexed))
        .order_by(*_order(f.sort))
    )


def list_issues(
    *,
    session: Session,
    f: IssueFilter,
    now: datetime,
    offset: int = 0,
    limit: int = 50,
    counts: Counts | None = None,
) -> list[Row[Any]]:
    """One page of the list: rows with the issue's columns and owner, village and group names.
    With `counts` of a text search that found more than COUNT_CAP, the word is common: the
    page is found by walking the list order (see `search_condition`)."""
    common = bool(f.terms() and counts is not None and counts.capped)
    query = _rows_query(session, f, now, indexed=not common).offset(offset).limit(limit)
    if common and dialect(session) == "postgresql":
        # PostgreSQL cannot know the word is common; without this it reads every match
        # (or the whole table) to sort them, instead of stopping after a page.
        planner = {"enable_seqscan": "off", "enable_bitmapscan": "off"}
        planner["max_parallel_workers_per_gather"] = "0"  # workers start slower than a page
        for name, value in planner.items():
            session.execute(text(f"SET LOCAL {name} = {value}"))
        try:
            return list(session.execute(query).all())
        finally:
            for name in planner:
                session.execute(text(f"SET LOCAL {name} = DEFAULT"))
    return list(session.execute(query).all())


def iter_issues(
    *, session: Session, f: IssueFilter, now: datetime, batch: int = 1000
) -> Iterator[Row[Any]]:
    """Every row of the filter, fetched in batches on a server-side cursor where the
    database has one, so memory does not grow with the number of rows."""
    result = session.execute(
        _rows_query(session, f, now).execution_options(stream_results=True, yield_per=batch)
    )
    yield from result


def _tallied(f: IssueFilter) -> bool:
    """Whether the counts of this filter can be read from the tally."""
    return not (f.overdue or _searched(f))


def _searched(f: IssueFilter) -> bool:
    """Dates or words: filters whose matches may be many and are counted up to a cap."""
    return bool(f.created_from or f.created_to or f.terms() or f.number is not None)


def _tally_conditions(f: IssueFilter) -> list[ColumnElement[bool]]:
    return _categorical(f, IssueTally, lambda c: c)


def _categorical(
    f: IssueFilter, table: Any, wrap: Callable[[Any], Any]
) -> list[ColumnElement[bool]]:
    """The village, group, kind, status and owner conditions on `table` (Issue or the tally)."""
    where: list[ColumnElement[bool]] = []
    if f.villages is not None:
        where.append(wrap(col(table.village_id)).in_(f.villages) if f.villages else false())
    for value, column_ in (
        (f.village_id, table.village_id),
        (f.group_id, table.group_id),
        (f.kind or None, table.kind),
        (f.owner_id, table.owner_id),
    ):
        if value is not None:
            where.append(wrap(col(column_)) == value)
    if f.status == ACTIVE:
        where.append(col(table.status).in_(ACTIVE_STATUSES))
    elif f.status:
        where.append(col(table.status) == f.status)
    return where


def _many_words(session: Session, f: IssueFilter, cap: int) -> bool:
    """SQLite, a search for one or two-character words only and no other filter: the search
    table alone says whether more than `cap` match (storage.search.many_matches)."""
    # The whole town, nothing else, and a reader of every text.
    only_words = replace(f, reader=None) == IssueFilter(text=f.text, sort=f.sort)
    only_words = only_words and readable(f.reader) is None
    if not only_words:
        return False
    return bool(many_matches(session, f.terms(), cap))


def _overdue_count(session: Session, f: IssueFilter, now: datetime) -> int:
    """Overdue ones among a village, group, kind, status or owner filter, read from
    ix_issue_due_cover alone (open issues are few). SQLite's planner would rather take the
    filter column's own index and read the table for each of its rows, so there the filter
    columns are wrapped (coalesce(x, x) is x, but no index serves it)."""
    sqlite = dialect(session) == "sqlite"
    where = _categorical(f, Issue, (lambda c: func.coalesce(c, c)) if sqlite else (lambda c: c))
    query = select(func.count()).select_from(Issue).where(*where, is_overdue(now))
    return int(session.execute(query).scalar_one())


def count_issues(
    *, session: Session, f: IssueFilter, now: datetime, cap: int = COUNT_CAP
) -> Counts:
    """Per status and overdue. A village, group, kind, status or owner filter is answered by
    the tally (exact, whatever the number of issues); dates and words are counted up to `cap`.
    Overdue ones are open ones, a small part of all: counted directly."""
    counts = Counts()
    if _tallied(f):
        for status, n in session.execute(
            select(col(IssueTally.status), func.sum(col(IssueTally.n)))
            .where(*_tally_conditions(f))
            .group_by(col(IssueTally.status))
        ):
            if n:
                counts.by_status[status] = int(n)
                counts.total += int(n)
        counts.overdue = _overdue_count(session, f, now)
        return counts
    if _many_words(session, f, cap):
        return Counts(total=cap + 1, capped=True)
    late = case((is_overdue(now), 1), else_=0).label("late")
    found_query = select(col(Issue.status), late).where(*conditions(session, f, now))
    if _searched(f):  # else: only overdue ones, a part of the open ones: count them all
        found_query = found_query.limit(cap + 1)
    found = found_query.subquery()
    for status, n, overdue in session.execute(
        select(found.c.status, func.count(), func.sum(found.c.late)).group_by(found.c.status)
    ):
        counts.by_status[status] = n
        counts.total += n
        counts.overdue += int(overdue or 0)
    counts.capped = counts.total > cap
    return counts


def days_late(due_at: datetime, status: str, now: datetime) -> int:
    """Whole days past the due time of an open matter (at least 1 once late); else 0."""
    if status not in ACTIVE_STATUSES or now <= due_at:
        return 0
    return max(1, (now - due_at).days)


# --- one issue -------------------------------------------------------------------------------


def get_issue(*, session: Session, number: int) -> Issue | None:
    """The issue numbered #number (loaded into the session, to read or change)."""
    return session.exec(select_models(Issue).where(Issue.number == number)).first()


def timeline(*, session: Session, issue_id: int) -> list[Event]:
    return list(
        session.exec(select_models(Event).where(Event.issue_id == issue_id).order_by(col(Event.id)))
    )


def lock(*, session: Session, issue: Issue) -> None:
    """Lock a loaded issue's row for this transaction and read it again as it is now."""
    session.refresh(issue, with_for_update=True)


def count_all(*, session: Session) -> int:
    """Every issue ever registered (the status page)."""
    return int(session.exec(select_models(func.count()).select_from(Issue)).one())


def issues_by_ids(*, session: Session, ids: Sequence[int]) -> dict[int, Issue]:
    """The issues with these ids, loaded, by id."""
    found = session.exec(select_models(Issue).where(col(Issue.id).in_(list(ids))))
    return {i.id: i for i in found if i.id is not None}


def add_issue(*, session: Session, values: dict[str, Any]) -> Issue:
    """A new issue (every column in `values` but its id) and its first check, written with
    Core (storage.writes.insert_issue), then attached to the session as if loaded, so later
    changes in this transaction are tracked like those of any issue."""
    issue = writes.as_loaded(Issue, {**values, "id": writes.insert_issue(session, values)})
    session.add(issue)
    return issue


def add_report(*, session: Session, issue: Issue) -> int:
    """One more person reported this issue, counted in the database (two reports at once from
    two instances both count); the loaded issue is told the new figure without being marked
    changed (no UPDATE of the row at commit)."""
    reports = writes.add_report(session.connection(), issue.id or 0)
    set_committed_value(issue, "reports", reports)
    return reports


def next_number(*, session: Session) -> int:
    """The deployment's next #N (see storage.writes.bump_issue_number)."""
    value = writes.next_issue_number(session)
    if value is not None:
        return value
    try:
        with session.begin_nested():  # the very first issue: create the counter
            session.add(Counter(name="issue", value=1))
        return 1
    except IntegrityError:  # another instance created it first
        return writes.bump_issue_number(session.connection()) or 0


def awaiting_rating(*, session: Session, reporter: str, closed_since: datetime) -> Issue | None:
    """The reporter's latest issue closed since then and not rated yet."""
    return session.exec(
        select_models(Issue)
        .where(
            Issue.reporter == reporter,
            Issue.status == Status.CLOSED,
            col(Issue.rating).is_(None),
            col(Issue.closed_at) >= closed_since,
            # Settled at some level: an issue merged into another (closed as 已并入, no level)
            # asks for no rating; the issue it went into will.
            col(Issue.settled_level).is_not(None),
        )
        .order_by(col(Issue.closed_at).desc())
    ).first()


def unclaimed_of(*, session: Session, person_id: int, group_id: int | None) -> list[Issue]:
    """The person's issues nobody has claimed yet (待认领), of one group (None: all of them),
    the earliest due first: what 认领 without a number may mean."""
    query = select_models(Issue).where(Issue.owner_id == person_id, Issue.status == Status.OPEN)
    if group_id is not None:
        query = query.where(Issue.group_id == group_id)
    return list(session.exec(query.order_by(col(Issue.due_at), col(Issue.number))).all())


@cache
def _open_counts_of(n: int) -> Any:
    """Open issues per owner for `n` people (uses ix_issue_owner_status). One statement per
    pool size, with plain parameters: an expanding IN list is rebuilt at every execution."""
    ids: list[Any] = [bindparam(f"id{i}") for i in range(n)]
    return (
        select(col(Issue.owner_id), func.count())
        .where(col(Issue.owner_id).in_(ids), is_active(col(Issue.status)))
        .group_by(col(Issue.owner_id))
    )


def open_counts(*, session: Session, person_ids: list[int]) -> dict[int, int]:
    """Open issues per person."""
    if not person_ids:
        return {}
    params = {f"id{i}": person_id for i, person_id in enumerate(person_ids)}
    rows = session.connection().execute(_open_counts_of(len(person_ids)), params).all()
    return {owner: n for owner, n in rows if owner is not None}


# --- duplicate detection ---------------------------------------------------------------------


def _open_of_topic(topic: Any, groups: int) -> Any:
    conditions = [
        col(Issue.village_id) == bindparam("village_id"),
        col(Issue.kind) == bindparam("kind"),
        topic,
        is_active(col(Issue.status)),
        col(Issue.created_at) >= bindparam("since"),
    ]
    if groups:
        # A post naming a 组 cannot be the matter of an issue naming only other 组
        # (classifier.duplicates.similarity): those stay in the index, which matters when a
        # village has many open matters of one thing (street lights after a storm), each in
        # its own 组.
        like = (col(Issue.groups).like(bindparam(f"group{i}")) for i in range(groups))
        conditions.append(or_(col(Issue.groups).is_(None), *like))
    return select(col(Issue.id), col(Issue.text), col(Issue.created_at)).where(*conditions)


@cache
def _candidates(groups: int, limit: int, untopiced: bool) -> Any:
    """Open matters of the post's village, kind and topic, newest first, for a post whose 组
    are spelled `groups` ways: one walk down ix_issue_topic, newest first, stopping at `limit`.
    With `untopiced`, also the issues stored without a topic (registered before topics were
    stored): a second index search, the two merged and sorted (an OR of the two would make the
    database scan every open matter of the kind). Built once per shape."""
    mine = _open_of_topic(col(Issue.topic) == bindparam("topic"), groups)
    if not untopiced:
        newest = col(Issue.created_at).desc()
        return mine.with_only_columns(col(Issue.id), col(Issue.text)).order_by(newest).limit(limit)
    both = union_all(mine, _open_of_topic(col(Issue.topic).is_(None), groups)).subquery()
    return select(both.c.id, both.c.text).order_by(both.c.created_at.desc()).limit(limit)


_UNTOPICED = (
    select(col(Issue.id))
    .where(
        col(Issue.topic).is_(None),
        is_active(col(Issue.status)),
        col(Issue.created_at) >= bindparam("since"),
    )
    .limit(1)
)


def untopiced_open(*, session: Session, since: datetime) -> bool:
    """Whether any open issue created since `since` has no topic stored (registered before
    migration 0007, or without a duplicate finder)."""
    return session.connection().execute(_UNTOPICED, {"since": since}).first() is not None


def duplicate_candidates(
    *,
    session: Session,
    village_id: int,
    kind: str,
    topic: str,
    since: datetime,
    groups: Sequence[str],
    limit: int,
    untopiced: bool = True,
) -> list[Row[int, str]]:
    """(id, text) of the open issues of this village and kind created since `since` whose
    topic is `topic` (or that have none stored), newest first, at most `limit`. With `groups`
    (the spellings of the 组 a post names), only issues naming one of them or no 组 at all
    (the column holds "|三|五|"). Without `untopiced`, issues stored without a topic are not
    read (the caller knows there are none)."""
    return list(
        session.connection()
        .execute(
            _candidates(len(groups), limit, untopiced),
            {
                "village_id": village_id,
                "kind": kind,
                "topic": topic,
                "since": since,
                **{f"group{i}": f"%|{g}|%" for i, g in enumerate(groups)},
            },
        )
        .all()
    )


# --- events ----------------------------------------------------------------------------------

EVENT = SQLModel.metadata.tables["event"]
_EVENT_INSERT = insert(Event)  # built once: an event is written for every change


def event_row(
    *, issue_id: int, kind: str, actor: str, at: datetime, detail: str = ""
) -> dict[str, Any]:
    """An event's row, as every writer of events builds it."""
    return {"issue_id": issue_id, "kind": kind, "actor": actor, "at": at, "detail": detail}


def add_events(
    *, session: Session, issue_id: int, at: datetime, changes: Sequence[tuple[str, str, str]]
) -> None:
    """Events of one issue, (kind, actor, detail) each, in one statement; written with Core
    (not ORM objects: cheaper on every post), after the issue; in a burst of posts, with the
    burst's other rows (storage.writes.deferred)."""
    rows = [
        event_row(issue_id=issue_id, kind=kind, actor=actor, at=at, detail=detail)
        for kind, actor, detail in changes
    ]
    writes.insert_later(session, _EVENT_INSERT, *rows)


# --- the scheduler's sweep -------------------------------------------------------------------

ISSUE: Table = SQLModel.metadata.tables["issue"]
# What the sweep reads of an issue (scheduler.ladder): plain rows, thousands at a time.
SWEEP_COLUMNS = (
    ISSUE.c.id,
    ISSUE.c.number,
    ISSUE.c.village_id,
    ISSUE.c.kind,
    ISSUE.c.text,
    ISSUE.c.owner_id,
    ISSUE.c.status,
    ISSUE.c.clock_start,
    ISSUE.c.due_at,
    ISSUE.c.level,
    ISSUE.c.group_stub,  # a 村里事 the group reads only as a stub: the village pool too (ladder)
)


def sweep_rows(*, session: Session, ids: Sequence[int]) -> list[Row[Any]]:
    """The sweep's columns of these issues, by primary key."""
    return list(
        session.execute(select(*SWEEP_COLUMNS).where(among(ISSUE.c.id, ids, session))).all()
    )


def last_assigned(*, session: Session, issue_ids: Sequence[int]) -> dict[int, datetime]:
    """When each of these issues was last assigned (its latest "assigned" event)."""
    return {
        issue_id: at
        for issue_id, at in session.execute(
            select(EVENT.c.issue_id, func.max(EVENT.c.at))
            .where(among(EVENT.c.issue_id, issue_ids, session), EVENT.c.kind == "assigned")
            .group_by(EVENT.c.issue_id)
        ).all()
    }


def write_events(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Many events (`event_row`s) at once, in a few statements (storage.bulk)."""
    insert_rows(session, EVENT, rows)


def set_levels(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Raise issues' levels: {"id", "level"} each, in a few statements (storage.bulk)."""
    update_rows(session, ISSUE, rows, fields=("level",))


def open_with_owner(*, session: Session) -> list[Row[Any]]:
    """Every open issue that has an owner (number, kind, text, owner_id, due_at), by owner,
    then due time: the daily to-do."""
    return list(
        session.execute(
            select(ISSUE.c.number, ISSUE.c.kind, ISSUE.c.text, ISSUE.c.owner_id, ISSUE.c.due_at)
            .where(
                ISSUE.c.status.in_([str(s) for s in ACTIVE_STATUSES]),
                ISSUE.c.owner_id.is_not(None),
            )
            .order_by(ISSUE.c.owner_id, ISSUE.c.due_at, ISSUE.c.number)
        ).all()
    )


__all__ = [
    "ACTIVE",
    "COUNT_CAP",
    "SORTS",
    "Counts",
    "IssueFilter",
    "Reader",
    "add_events",
    "add_issue",
    "awaiting_rating",
    "count_all",
    "count_issues",
    "days_late",
    "duplicate_candidates",
    "event_row",
    "get_issue",
    "issues_by_ids",
    "iter_issues",
    "last_assigned",
    "list_issues",
    "lock",
    "next_number",
    "open_counts",
    "open_with_owner",
    "set_levels",
    "sweep_rows",
    "timeline",
    "unclaimed_of",
    "write_events",
]
