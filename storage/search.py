"""Text search over issues: any substring of an issue's text, and only the issues whose words
the searching person may read.

PostgreSQL keeps a GIN index of each text's character pairs (`shuoshi_grams`, migration 0004),
SQLite an FTS5 table of them (`issue_search`, filled here from the issue table: issue text is
written once, at registration). Words in Chinese are not separated by spaces, so a pair index
finds any two-character word, which a word index or a trigram index cannot; single characters
are indexed too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Integer, Text, and_, case, cast, column, false, func, or_, text, true
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from storage.models import KINDS, PRIVATE_KINDS, Issue, Kind

# The privacy rule: whether a viewer may read an issue's words (handlers.privacy.sees_text,
# called with the issue's kind and keyword arguments). Storage does not know the rule: the
# reader brings it.
SeesText = Callable[..., bool]


@dataclass(frozen=True)
class Reader:
    """Who searches, as handlers.privacy.sees_text knows a viewer, and that rule: a text search
    matches only issues whose words they may read."""

    key: str | None
    person_id: int | None
    role: str | None
    village_id: int | None
    sees_text: SeesText = field(compare=False, repr=False)


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


def fts_query(term: str) -> str | None:
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

    An index narrows the candidates, then LIKE checks them (see the module's text).

    Without `indexed`, only the LIKE: for a common word, walking the list's own order and
    keeping matching rows finds a page sooner than collecting every match first."""
    conditions: list[ColumnElement[bool]] = []
    postgres = dialect(session) == "postgresql"
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
        elif q := fts_query(term):
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


def many_matches(session: Session, terms: Sequence[str], cap: int) -> bool | None:
    """SQLite, one or two-character words only: whether more than `cap` issues match, from
    the search table alone (for such words it is exact), without reading `cap` issues to find
    out. None where the search table cannot tell (PostgreSQL, longer words)."""
    if not terms or dialect(session) != "sqlite":
        return None
    if not all(len(t) <= 2 and t.isalnum() for t in terms):
        return None
    refresh_search_index(session)
    match = " AND ".join(q for t in terms if (q := fts_query(t)))
    found = session.execute(
        text(
            "SELECT count(*) FROM "
            "(SELECT rowid FROM issue_search WHERE issue_search MATCH :m LIMIT :n)"
        ),
        {"m": match, "n": cap + 1},
    ).scalar_one()
    return int(found) > cap


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
    if dialect(session) != "sqlite":
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

    Not a second copy of the rule: the reader's rule (handlers.privacy.sees_text) is asked,
    for each kind, about each way the reader can stand to an issue (its reporter or not, its
    owner or not, of their village or not), and its answers become the condition."""
    if reader is None:
        return None
    sees_text = reader.sees_text
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


def dialect(session: Session) -> str:
    """The session's database: "sqlite" or "postgresql"."""
    return session.get_bind().dialect.name


__all__ = [
    "SEARCH_OBJECTS",
    "Reader",
    "SeesText",
    "dialect",
    "fts_query",
    "grams",
    "is_derived_table",
    "many_matches",
    "not_search_object",
    "pg_grams",
    "readable",
    "refresh_search_index",
    "search_condition",
]
