"""Read queries of the admin pages, the ledger export and the API: one place for the SQL.

The list shows the newest matters first; every filter column has an index ending in
(created_at, id) (migration 0004), so a filter and the order are served by one index walk.
Text search finds any substring: see `search_condition`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    Text,
    and_,
    case,
    cast,
    column,
    false,
    func,
    or_,
    text,
    true,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.engine import Row
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from storage.models import (
    ACTIVE_STATUSES,
    KINDS,
    PRIVATE_KINDS,
    ChatGroup,
    Event,
    GroupChat,
    Inbound,
    Issue,
    IssueTally,
    Kind,
    Outbox,
    Person,
    Seen,
    Status,
    Village,
)

ACTIVE = "active"  # status filter value: open or claimed (未办结)
SORTS = ("new", "old", "due")
MAX_TERMS = 5


@dataclass(frozen=True)
class Reader:
    """Who searches, as handlers.privacy.sees_text knows a viewer: a text search matches only
    issues whose words they may read."""

    key: str | None
    person_id: int | None
    role: str | None
    village_id: int | None


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


# --- text search -----------------------------------------------------------------------------


def grams(value: str) -> list[str]:
    """The tokens SQLite's search table keeps for a text: for every run of letters or digits,
    its character pairs and its last character (so every character starts some token)."""
    out: list[str] = []
    for run in _runs(value.lower()):
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
        out.append(run[-1])
    return out


def _runs(value: str) -> list[str]:
    runs, current = [], []
    for ch in value:
        if ch.isalnum():
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def pg_grams(term: str) -> list[str]:
    """What PostgreSQL's `shuoshi_grams` index must contain for a text to contain `term`: its
    character pairs, or the character itself for a one-character term."""
    value = term.lower()
    if len(value) == 1:
        return [value]
    return sorted({value[i : i + 2] for i in range(len(value) - 1)})


def _fts_query(term: str) -> str | None:
    """An FTS5 query whose matches include every text containing `term` (re-checked later)."""
    parts: list[str] = []
    for run in _runs(term.lower()):
        if len(run) == 1:
            parts.append(f'"{run}"*')
        else:
            parts.extend(f'"{run[i : i + 2]}"' for i in range(len(run) - 1))
    return " AND ".join(dict.fromkeys(parts)) or None


def search_condition(
    session: Session, terms: Sequence[str], *, indexed: bool = True
) -> ColumnElement[bool]:
    """Every term is a substring of the text (case-insensitive).

    An index narrows the candidates, then LIKE checks them: PostgreSQL keeps a GIN index of
    each text's character pairs (`shuoshi_grams`), SQLite an FTS5 table of them. Words in
    Chinese are not separated by spaces, so a pair index finds any two-character word, which
    a word index or a trigram index cannot; single characters are indexed too.

    Without `indexed`, only the LIKE: for a common word, walking the list's own order and
    keeping matching rows finds a page sooner than collecting every match first."""
    conditions: list[ColumnElement[bool]] = []
    postgres = _dialect(session) == "postgresql"
    fts: list[str] = []
    for term in terms:
        conditions.append(func.lower(col(Issue.text)).contains(term.lower(), autoescape=True))
        if not indexed:
            continue
        if postgres:
            wanted = pg_grams(term)
            conditions.append(
                func.shuoshi_grams(col(Issue.text)).op("@>")(cast(array(wanted), ARRAY(Text)))
            )
        elif q := _fts_query(term):
            fts.append(q)
    if fts:
        refresh_search_index(session)
        matches = (
            text("SELECT rowid FROM issue_search WHERE issue_search MATCH :fts")
            .bindparams(fts=" AND ".join(fts))
            .columns(column("rowid", Integer))
        )
        conditions.append(col(Issue.id).in_(matches))
    return and_(*conditions) if conditions else true()


# Text search keeps derived data the models do not describe (rebuilt from issue texts at any
# time): alembic's autogenerate and model comparison must leave these alone.
SEARCH_OBJECTS = ("issue_search", "ix_issue_grams")


def not_search_object(name: str | None, type_: str, parent_names: object = None) -> bool:
    """For alembic's `include_name`: False for the text search's own tables and index."""
    return not (name and name.startswith(SEARCH_OBJECTS))


def is_derived_table(name: str) -> bool:
    """Tables computed from `issue` inside the database (the tally, by triggers; SQLite's
    search table): a copy to another database leaves them out, the target computes its own."""
    return name == "issuetally" or name.startswith("issue_search")


def refresh_search_index(session: Session, batch: int = 5000) -> int:
    """SQLite: add issues registered since the last call to the search table; the number
    added. Issue text is written once, at registration, so new ids are all there is to add,
    and the table's own highest rowid says how far it goes (a copied or restored database
    without it simply builds it again). Commits; a concurrent refresh that got there first is
    not an error."""
    if _dialect(session) != "sqlite":
        return 0
    from sqlalchemy.exc import IntegrityError, OperationalError

    added = 0
    while True:
        try:
            last = session.execute(text("SELECT max(rowid) FROM issue_search")).scalar() or 0
            rows = session.exec(
                select(Issue.id, Issue.text)
                .where(col(Issue.id) > last)
                .order_by(col(Issue.id))
                .limit(batch)
            ).all()
            if not rows:
                session.rollback()
                return added
            session.execute(
                text("INSERT INTO issue_search(rowid, grams) VALUES (:id, :grams)"),
                [{"id": i, "grams": " ".join(grams(t))} for i, t in rows],
            )
            session.commit()
            added += len(rows)
        except (IntegrityError, OperationalError):
            session.rollback()  # another request indexed these meanwhile
            return added


def readable(reader: Reader | None) -> ColumnElement[bool] | None:
    """The issues whose words this reader may read, as SQL; None: every issue.

    Not a second copy of the rule: handlers.privacy.sees_text is asked, for each kind, about
    each way the reader can stand to an issue (its reporter or not, its owner or not, of their
    village or not), and its answers become the condition."""
    from handlers.privacy import sees_text

    if reader is None:
        return None
    facts: dict[str, ColumnElement[bool]] = {}
    if reader.key is not None:
        facts["reporter"] = col(Issue.reporter) == reader.key
    if reader.person_id is not None:
        facts["owner"] = col(Issue.owner_id) == reader.person_id
    if reader.village_id is not None:
        facts["village"] = col(Issue.village_id) == reader.village_id
    cases = [dict(zip(facts, values, strict=True)) for values in _truth(len(facts))]

    def sees(kind: str, holds: dict[str, bool]) -> bool:
        return sees_text(
            kind,
            reporter=(reader.key or "") if holds.get("reporter") else f"not {reader.key}",
            owner_id=reader.person_id if holds.get("owner") else None,
            village_id=(reader.village_id or 0) if holds.get("village") else -1,
            viewer_key=reader.key,
            viewer_person_id=reader.person_id,
            viewer_role=reader.role,
            viewer_village_id=reader.village_id,
        )

    known = [str(k) for k in (*KINDS, Kind.UNSORTED)]
    # The kind as privacy counts it (handlers.privacy.privacy_kind): a 村里事 held back from its
    # group as unsure counts as 待分类.
    privacy_kind = case(
        (
            and_(col(Issue.group_stub), col(Issue.kind).not_in([str(k) for k in PRIVATE_KINDS])),
            str(Kind.UNSORTED),
        ),
        else_=col(Issue.kind),
    )
    parts: list[ColumnElement[bool]] = []
    everything = True
    for kind in [*known, ""]:  # "": any other kind
        kind_is = privacy_kind == kind if kind else privacy_kind.not_in(known)
        granted = [holds for holds in cases if sees(kind, holds)]
        if len(granted) == len(cases):
            parts.append(kind_is)
            continue
        everything = False
        if granted:
            # A fact that grants reading whatever else holds is a condition on its own; the
            # other granted cases are written out in full.
            enough = [n for n in facts if all(h in granted for h in cases if h[n])]
            rest = [h for h in granted if not any(h[n] for n in enough)]
            either = [facts[n] for n in enough] + [
                and_(*(facts[n] if h[n] else ~facts[n] for n in facts)) for h in rest
            ]
            parts.append(and_(kind_is, or_(*either)))
    if everything:
        return None
    return or_(*parts) if parts else false()


def _truth(n: int) -> list[tuple[bool, ...]]:
    return list(itertools.product((True, False), repeat=n))


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
        sa_select(
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
    session: Session,
    *,
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
    if common and _dialect(session) == "postgresql":
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
    session: Session, *, f: IssueFilter, now: datetime, batch: int = 1000
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
    table alone says whether more than `cap` match (for such words it is exact), without
    reading `cap` issues to find out."""
    terms = f.terms()
    # The whole town, nothing else, and a reader of every text.
    only_words = replace(f, reader=None) == IssueFilter(text=f.text, sort=f.sort)
    only_words = only_words and readable(f.reader) is None
    if not terms or not only_words or _dialect(session) != "sqlite":
        return False
    if not all(len(t) <= 2 and t.isalnum() for t in terms):
        return False
    refresh_search_index(session)
    match = " AND ".join(q for t in terms if (q := _fts_query(t)))
    found = session.execute(
        text(
            "SELECT count(*) FROM "
            "(SELECT rowid FROM issue_search WHERE issue_search MATCH :m LIMIT :n)"
        ),
        {"m": match, "n": cap + 1},
    ).scalar_one()
    return int(found) > cap


def _overdue_count(session: Session, f: IssueFilter, now: datetime) -> int:
    """Overdue ones among a village, group, kind, status or owner filter, read from
    ix_issue_due_cover alone (open issues are few). SQLite's planner would rather take the
    filter column's own index and read the table for each of its rows, so there the filter
    columns are wrapped (coalesce(x, x) is x, but no index serves it)."""
    sqlite = _dialect(session) == "sqlite"
    where = _categorical(f, Issue, (lambda c: func.coalesce(c, c)) if sqlite else (lambda c: c))
    query = sa_select(func.count()).select_from(Issue).where(*where, is_overdue(now))
    return int(session.execute(query).scalar_one())


def count_issues(
    session: Session, *, f: IssueFilter, now: datetime, cap: int = COUNT_CAP
) -> Counts:
    """Per status and overdue. A village, group, kind, status or owner filter is answered by
    the tally (exact, whatever the number of issues); dates and words are counted up to `cap`.
    Overdue ones are open ones, a small part of all: counted directly."""
    counts = Counts()
    if _tallied(f):
        for status, n in session.execute(
            sa_select(col(IssueTally.status), func.sum(col(IssueTally.n)))
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
    found_query = sa_select(col(Issue.status), late).where(*conditions(session, f, now))
    if _searched(f):  # else: only overdue ones, a part of the open ones: count them all
        found_query = found_query.limit(cap + 1)
    found = found_query.subquery()
    for status, n, overdue in session.execute(
        sa_select(found.c.status, func.count(), func.sum(found.c.late)).group_by(found.c.status)
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


def get_issue(session: Session, *, number: int) -> Issue | None:
    return session.exec(select(Issue).where(Issue.number == number)).first()


def timeline(session: Session, *, issue_id: int) -> list[Event]:
    return list(
        session.exec(select(Event).where(Event.issue_id == issue_id).order_by(col(Event.id)))
    )


# --- choices for the filters -----------------------------------------------------------------


def villages(session: Session, ids: tuple[int, ...] | None = None) -> list[Row[Any]]:
    """Active villages (id, name) in grid order; only `ids` when given. Light rows, not
    objects: the filter menus list every village, group and person on every page."""
    query = sa_select(col(Village.id), col(Village.name)).where(col(Village.active))
    if ids is not None:
        query = query.where(col(Village.id).in_(ids))
    return list(session.execute(query.order_by(col(Village.position))).all())


def groups(session: Session, village_ids: tuple[int, ...] | None = None) -> list[Row[Any]]:
    """Active groups (id, name, village_id)."""
    query = sa_select(col(ChatGroup.id), col(ChatGroup.name), col(ChatGroup.village_id))
    query = query.where(col(ChatGroup.active))
    if village_ids is not None:
        query = query.where(col(ChatGroup.village_id).in_(village_ids))
    return list(session.execute(query.order_by(col(ChatGroup.position))).all())


def people(session: Session, village_ids: tuple[int, ...] | None = None) -> list[Row[Any]]:
    """Active grid people (id, name, role, village_id)."""
    query = sa_select(col(Person.id), col(Person.name), col(Person.role), col(Person.village_id))
    query = query.where(col(Person.active))
    if village_ids is not None:
        query = query.where(col(Person.village_id).in_(village_ids))
    return list(session.execute(query.order_by(col(Person.position))).all())


# --- posts the bot kept but did not register -------------------------------------------------


def _post_village() -> Any:
    """The village of an inbox row: its group's, or for a private post, the group its sender
    was last seen in."""
    via_chat = (
        select(ChatGroup.village_id)
        .join(GroupChat, col(GroupChat.group_id) == col(ChatGroup.id))
        .where(col(GroupChat.chat_key) == col(Inbound.platform) + ":" + col(Inbound.chat))
        .limit(1)
        .scalar_subquery()
    )
    via_seen = (
        select(ChatGroup.village_id)
        .join(Seen, col(Seen.group_id) == col(ChatGroup.id))
        .where(col(Seen.sender) == col(Inbound.sender))
        .limit(1)
        .scalar_subquery()
    )
    return case((col(Inbound.private), via_seen), else_=via_chat)


# Listed kept posts are counted up to this many: chatter is most of what a group says, and
# an exact count of years of it would be read on every page for nothing.
POSTS_COUNT_CAP = 10_000
KEPT_STATUSES = ("unsure", "chatter")


def kept_posts(
    session: Session,
    *,
    status: str,
    villages: tuple[int, ...] | None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Row[Any]], int]:
    """Posts the bot kept without registering them, of one status ("unsure": a person decides;
    "chatter": taken for talk), newest first, with their village id; and how many (at most
    POSTS_COUNT_CAP). Chatter without words (stickers, a cadre's photo) is not listed: there
    is nothing in it to register."""
    if status not in KEPT_STATUSES:
        raise ValueError(f"not a kept post's status: {status}")
    village = _post_village()
    where = [col(Inbound.status) == status]
    if status == "chatter":
        where.append(col(Inbound.text) != "")
    if villages is not None:
        where.append(or_(village.in_(villages), village.is_(None)))
    capped = sa_select(col(Inbound.id)).where(*where).limit(POSTS_COUNT_CAP).subquery()
    total = session.execute(sa_select(func.count()).select_from(capped)).scalar_one()
    rows = session.execute(
        sa_select(Inbound, village.label("village_id"))
        .where(*where)
        .order_by(col(Inbound.received_at).desc(), col(Inbound.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), int(total)


def linked_reports(session: Session, *, issue_id: int) -> list[Inbound]:
    """The posts linked to an issue as reports of the same matter (inbox status "duplicate"),
    oldest first. Read through the status index: duplicates are a small part of the inbox."""
    return list(
        session.exec(
            select(Inbound)
            .where(col(Inbound.status) == "duplicate", col(Inbound.issue_id) == issue_id)
            .order_by(col(Inbound.received_at), col(Inbound.id))
        )
    )


# --- statistics ------------------------------------------------------------------------------


@dataclass
class Figures:
    """One row of the statistics: a week, a village, a kind or a person."""

    new: int = 0
    closed: int = 0  # closed in the period
    closed_of_new: int = 0  # of those registered in the period, closed by now
    withdrawn_of_new: int = 0
    on_time: int = 0  # closed in the period, by the due time
    rated: int = 0
    satisfied: int = 0  # 满意
    fair: int = 0  # 基本满意
    unsatisfied: int = 0
    levels: dict[str, int] = field(default_factory=dict)  # group/village/town of closed ones
    open_now: int = 0
    overdue_now: int = 0

    @property
    def closure_rate(self) -> float | None:  # 办结率
        base = self.new - self.withdrawn_of_new
        return self.closed_of_new / base if base > 0 else None

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
    if _dialect(session) == "postgresql":
        seconds = func.extract("epoch", column_) - start.timestamp()
    else:
        seconds = func.unixepoch(column_) - start.timestamp()
    return func.floor(seconds / (7 * 86400))


def stats(
    session: Session,
    *,
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

    def buckets(week: int | None, village: int, kind: str, owner: int | None) -> list[Figures]:
        found = [out.total, out.by_village.setdefault(village, Figures())]
        found.append(out.by_kind.setdefault(kind, Figures()))
        if owner is not None:
            found.append(out.by_person.setdefault(owner, Figures()))
        if week is not None:
            found.append(out.by_week.setdefault(week, Figures()))
            found.append(out.by_week_village.setdefault((week, village), Figures()))
        return found

    created_week = _week_index(session, Issue.created_at, start).label("week")
    for week, village, kind, owner, n, closed, withdrawn in session.execute(
        sa_select(
            created_week,
            col(Issue.village_id),
            col(Issue.kind),
            col(Issue.owner_id),
            func.count(),
            func.sum(case((col(Issue.status) == Status.CLOSED, 1), else_=0)),
            func.sum(case((col(Issue.status) == Status.WITHDRAWN, 1), else_=0)),
        )
        .where(col(Issue.created_at) >= start, col(Issue.created_at) < end, *scope)
        .group_by(created_week, col(Issue.village_id), col(Issue.kind), col(Issue.owner_id))
    ):
        for fig in buckets(int(week), village, kind, owner):
            fig.new += n
            fig.closed_of_new += int(closed or 0)
            fig.withdrawn_of_new += int(withdrawn or 0)

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


# --- status ----------------------------------------------------------------------------------


def outbox_summary(session: Session) -> dict[tuple[str, str], int]:
    """(platform, status) → number of outbox rows not (yet) sent: pending, sending, failed."""
    rows = session.execute(
        sa_select(col(Outbox.platform), col(Outbox.status), func.count())
        .where(col(Outbox.status).in_(("pending", "sending", "failed")))
        .group_by(col(Outbox.platform), col(Outbox.status))
    ).all()
    return {(p, s): n for p, s, n in rows}


def oldest_pending(session: Session) -> datetime | None:
    return session.execute(
        select(func.min(Outbox.not_before)).where(Outbox.status == "pending")
    ).scalar_one_or_none()


def failed_messages(session: Session, limit: int = 10) -> list[Outbox]:
    return list(
        session.exec(
            select(Outbox)
            .where(Outbox.status == "failed")
            .order_by(col(Outbox.id).desc())
            .limit(limit)
        )
    )


def last_job_runs(session: Session) -> list[tuple[str, str, datetime]]:
    """(job, period, time) of each scheduler job's latest run, where the scheduler keeps them."""
    try:
        from storage.models import JobRun  # type: ignore[attr-defined]
    except ImportError:
        return []
    latest = (
        sa_select(col(JobRun.job), func.max(col(JobRun.at)).label("at"))
        .group_by(col(JobRun.job))
        .subquery()
    )
    rows = session.execute(
        sa_select(col(JobRun.job), col(JobRun.period), col(JobRun.at))
        .join(latest, and_(latest.c.job == col(JobRun.job), latest.c.at == col(JobRun.at)))
        .order_by(col(JobRun.job))
    ).all()
    return [(job, period, at) for job, period, at in rows]


# --- the local chat as a web page ------------------------------------------------------------


def local_conversation(
    session: Session, *, chat: str, private: bool, limit: int = 100
) -> list[tuple[datetime, int, str, Any]]:
    """The last messages of one local chat, oldest first: (time, order, "in"|"out", row)."""
    inbound = session.exec(
        select(Inbound)
        .where(
            Inbound.platform == "local",
            Inbound.chat == chat,
            Inbound.private == private,
            col(Inbound.button).is_(None),
        )
        .order_by(col(Inbound.id).desc())
        .limit(limit)
    ).all()
    outbound = session.exec(
        select(Outbox)
        .where(
            Outbox.platform == "local",
            Outbox.chat == chat,
            Outbox.private == private,
            Outbox.status == "sent",
        )
        .order_by(col(Outbox.id).desc())
        .limit(limit)
    ).all()
    items: list[tuple[datetime, int, str, Any]] = [
        (row.received_at, 0, "in", row) for row in inbound
    ]
    items += [(row.sent_at or row.created_at, 1, "out", row) for row in outbound]
    items.sort(key=lambda item: (item[0], item[1], item[3].id or 0))
    return items[-limit:]


def buttons_of(row: Outbox) -> list[tuple[str, str]]:
    return [(label, data) for label, data in json.loads(row.buttons or "[]")]


def _dialect(session: Session) -> str:
    bind = session.get_bind()
    return bind.dialect.name


__all__ = [
    "ACTIVE",
    "COUNT_CAP",
    "POSTS_COUNT_CAP",
    "SORTS",
    "Counts",
    "Figures",
    "IssueFilter",
    "Reader",
    "Stats",
    "count_issues",
    "days_late",
    "get_issue",
    "iter_issues",
    "kept_posts",
    "linked_reports",
    "list_issues",
    "readable",
    "refresh_search_index",
    "stats",
    "timeline",
]
