"""Core statements for the path every message takes (record it, register a matter, mark it
handled). Built once; executed on the session's connection, inside its transaction.

Rows nothing reads back in the same transaction (outbox rows, events, the scheduler's first
check) may be written later: inside `deferred(session)` they are collected and written at its
end, one statement per table for a whole burst of posts instead of one statement per row.

An ORM object costs several times the row it writes (attribute instrumentation, the unit of
work, a flush per id needed): at a thousand posts a second that was most of the time. What
the ORM did for these rows on its own (the issue's first scheduler check, see
`storage.models.check_of`) is done here explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, attributes, configure_mappers, make_transient_to_detached
from sqlmodel import SQLModel, col

from storage.models import Counter, Inbound, Issue, IssueCheck, Seen, check_of

M = TypeVar("M", bound=SQLModel)

_INBOUND_INSERT = insert(Inbound)
_INBOUND_DONE = (
    update(Inbound)
    .where(col(Inbound.id) == bindparam("row_id"))
    .values(
        status=bindparam("status"),
        label=bindparam("label"),
        confidence=bindparam("confidence"),
        issue_id=bindparam("issue_id"),
    )
)
_ISSUE_INSERT = insert(Issue)
_CHECK_INSERT = insert(IssueCheck)
_NEXT_NUMBER = (
    update(Counter)
    .where(col(Counter.name) == "issue")
    .values(value=col(Counter.value) + 1)
    .returning(col(Counter.value))
)
_ONE_MORE_REPORT = (
    update(Issue)
    .where(col(Issue.id) == bindparam("issue_id"))
    .values(reports=col(Issue.reports) + 1)
    .returning(col(Issue.reports))
)


def _new_id(conn: Connection, statement: Any, values: Mapping[str, Any]) -> int:
    key = conn.execute(statement, dict(values)).inserted_primary_key
    assert key is not None and key[0] is not None
    return int(key[0])


def as_loaded(model: type[M], values: Mapping[Any, Any]) -> M:
    """An object for a row just written with Core, built the way the ORM builds a row it
    loads: neither validated nor tracked, every column set (those not given take the model's
    default), so reading one never goes back to the database. Added to a session, it is
    persistent and its later changes are tracked as usual. (SQLModel's constructor validates
    and records each of an issue's 25 columns: nine times the cost.)"""
    defaults = _defaults(model)
    obj = model.__mapper__.class_manager.new_instance()  # type: ignore[attr-defined]
    state = attributes.instance_state(obj)
    state.dict.update(defaults)
    state.dict.update(values)
    make_transient_to_detached(obj)
    return obj


@cache
def _defaults(model: type[SQLModel]) -> dict[str, Any]:
    configure_mappers()  # a process that has run no ORM query yet has not done it
    names = model.__table__.columns.keys()  # type: ignore[attr-defined]
    fields = model.model_fields
    return {name: fields[name].get_default(call_default_factory=True) for name in names}


def insert_inbound(conn: Connection, values: Mapping[str, Any]) -> int:
    """Record a message (status "new"); IntegrityError when it was recorded before."""
    return _new_id(conn, _INBOUND_INSERT, {"status": "new", **values})


def mark_inbound(
    conn: Connection,
    row_id: int,
    *,
    status: str,
    label: str | None,
    confidence: float | None,
    issue_id: int | None,
) -> None:
    conn.execute(
        _INBOUND_DONE,
        {
            "row_id": row_id,
            "status": status,
            "label": label,
            "confidence": confidence,
            "issue_id": issue_id,
        },
    )


def insert_issue(session: Session, values: Mapping[str, Any]) -> int:
    """A new issue and, if it is active, its first check for the scheduler's sweep (the rule
    of `storage.models.check_of`, which the ORM listener applies to issues added as objects)."""
    issue_id = _new_id(session.connection(), _ISSUE_INSERT, values)
    check = check_of(
        issue_id=issue_id,
        status=values.get("status", "open"),
        clock_start=values["clock_start"],
    )
    if check is not None:
        insert_later(session, _CHECK_INSERT, check)
    return issue_id


def bump_issue_number(conn: Connection) -> int | None:
    """The deployment's next #N, or None before the counter row exists. One UPDATE …
    RETURNING: the row lock it takes keeps two instances from handing out one number twice."""
    value = conn.execute(_NEXT_NUMBER).scalar_one_or_none()
    return None if value is None else int(value)


_NUMBERS = "shuoshi_issue_numbers"
_ADD_TO_COUNTER = (
    update(Counter)
    .where(col(Counter.name) == "issue")
    .values(value=col(Counter.value) + bindparam("n"))
)


def next_issue_number(session: Session) -> int | None:
    """The next #N, or None before the counter row exists. In a burst (`deferred`), the first
    number is taken from the database (its UPDATE locks the counter row on PostgreSQL, as
    SQLite's write lock does the whole database, until the commit), the burst's later ones are
    counted on from it, and the counter is moved on by their number with the burst's other
    rows: one statement instead of one per matter, and no number handed out twice."""
    held: list[int] | None = session.info.get(_NUMBERS)
    if held is not None:
        held[0] += 1  # the last number handed out
        held[1] += 1  # how many the counter has still to be moved on by
        return held[0]
    value = bump_issue_number(session.connection())
    if value is not None and is_deferring(session):
        session.info[_NUMBERS] = [value, 0]
    return value


def add_report(conn: Connection, issue_id: int) -> int:
    """One more person reported this issue; how many have now (atomic across instances)."""
    return int(conn.execute(_ONE_MORE_REPORT, {"issue_id": issue_id}).scalar_one())


def remember_seen(conn: Connection, sender: str, group_id: int, at: datetime) -> None:
    """Where a sender was last seen: one upsert (both databases have INSERT … ON CONFLICT)."""
    conn.execute(
        _seen_upsert(conn.dialect.name), {"sender": sender, "group_id": group_id, "at": at}
    )


@cache
def _seen_upsert(dialect: str) -> Any:
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(Seen)
    return statement.on_conflict_do_update(
        index_elements=[col(Seen.sender)],
        set_={"group_id": statement.excluded.group_id, "at": statement.excluded.at},
    )


_DEFERRED = "shuoshi_deferred_inserts"


@contextmanager
def deferred(session: Session) -> Iterator[None]:
    """Collect `insert_later` rows while the block runs and write them when it ends without an
    error (an error undoes the transaction anyway). Code in the block that reads such rows
    back must call `write_deferred` first."""
    session.info[_DEFERRED] = {}
    try:
        yield
        write_deferred(session)
    finally:
        session.info.pop(_DEFERRED, None)
        session.info.pop(_NUMBERS, None)


def is_deferring(session: Session) -> bool:
    return session.info.get(_DEFERRED) is not None


def insert_later(session: Session, statement: Any, *rows: Mapping[str, Any]) -> None:
    """INSERT rows: at once, or inside `deferred` with the others of their statement. Rows of
    one statement must name the same columns."""
    pending: dict[Any, list[Mapping[str, Any]]] | None = session.info.get(_DEFERRED)
    if pending is not None:
        pending.setdefault(statement, []).extend(rows)
    elif rows:
        params = [dict(row) for row in rows]
        session.connection().execute(statement, params if len(params) > 1 else params[0])


def write_deferred(session: Session) -> None:
    """Write the rows collected so far, in the order they came (per statement: one call)."""
    held: list[int] | None = session.info.get(_NUMBERS)
    if held is not None and held[1]:
        session.connection().execute(_ADD_TO_COUNTER, {"n": held[1]})
        held[1] = 0
    pending: dict[Any, list[Mapping[str, Any]]] | None = session.info.get(_DEFERRED)
    if not pending:
        return
    conn = session.connection()
    for statement, rows in pending.items():
        conn.execute(statement, [dict(row) for row in rows])
    pending.clear()
