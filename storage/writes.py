"""Core statements for the path every message takes (record it, register a matter, mark it
handled). Built once; executed on the session's connection, inside its transaction.

An ORM object costs several times the row it writes (attribute instrumentation, the unit of
work, a flush per id needed): at a thousand posts a second that was most of the time. What
the ORM did for these rows on its own (the issue's first scheduler check, see
`storage.models._first_check`) is done here explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.engine import Connection
from sqlmodel import col

from storage.models import ACTIVE_STATUSES, Counter, Inbound, Issue, IssueCheck

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


def insert_issue(conn: Connection, values: Mapping[str, Any]) -> int:
    """A new issue and, if it is active, its first check for the scheduler's sweep (as the
    ORM listener does for issues added as objects)."""
    issue_id = _new_id(conn, _ISSUE_INSERT, values)
    if values.get("status", "open") in ACTIVE_STATUSES:
        conn.execute(_CHECK_INSERT, {"issue_id": issue_id, "next_check_at": values["clock_start"]})
    return issue_id


def bump_issue_number(conn: Connection) -> int | None:
    """The deployment's next #N, or None before the counter row exists. One UPDATE …
    RETURNING: the row lock it takes keeps two instances from handing out one number twice."""
    value = conn.execute(_NEXT_NUMBER).scalar_one_or_none()
    return None if value is None else int(value)


def add_report(conn: Connection, issue_id: int) -> int:
    """One more person reported this issue; how many have now (atomic across instances)."""
    return int(conn.execute(_ONE_MORE_REPORT, {"issue_id": issue_id}).scalar_one())
