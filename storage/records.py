"""The unit of work on ORM rows, for decisions that hold a loaded row and change it.

Decisions (handlers/, admin/) read and write through named storage functions; where one of them
holds a row the ORM loaded (an issue, a message, a question waiting for its answer) and changes
it, these four are what it may ask of the session. They exist so that every statement the
program runs is issued from storage/ (tests/test_layers.py checks that nothing else calls the
session's own `get`, `add`, `delete`, `merge`, `exec` or `execute`), and so that a reader sees
from the name what reaches the database at commit.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

M = TypeVar("M")


def by_id(session: Session, model: type[M], key: Any, *, fresh: bool = False) -> M | None:
    """One row by its primary key: from the session if it holds it, else one SELECT; with
    `fresh`, read again even if the session holds it (another transaction may have changed
    it since)."""
    if key is None:
        return None
    return session.get(model, key, populate_existing=fresh)


def keep(session: Session, *rows: Any) -> None:
    """Write these rows at commit: new ones inserted, changed ones updated. (A row the session
    loaded is tracked anyway; a row built outside it, or taken out of it, is not until kept.)"""
    session.add_all(rows)


def drop(session: Session, row: Any) -> None:
    """Delete this row at commit."""
    session.delete(row)


def put(session: Session, row: M) -> M:
    """Insert or replace the row with this primary key (one per key: a question waiting for
    a sender's answer replaces the one before)."""
    return session.merge(row)
