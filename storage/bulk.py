"""Many rows written in a few statements: the scheduler's sweep inserts and updates thousands of
rows, and neither a round trip nor SQLAlchemy's per-row parameter handling per row can be afforded
(together they were most of a 10,000-issue sweep). Values still go through each column type's
own conversion (UTC for datetimes), exactly as a statement would apply it.

PostgreSQL: COPY for inserts, one UPDATE … FROM unnest(arrays) for updates. SQLite (in
process, no round trips): the driver's executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, Table, any_, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session


def _converted(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], names: Sequence[str]
) -> list[tuple[Any, ...]]:
    dialect = session.get_bind().dialect
    # dialect_impl: the dialect's own type (SQLite stores datetimes in its own text format).
    processors = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
    columns: list[list[Any]] = []
    for name, process in zip(names, processors, strict=True):
        values = [row[name] for row in rows]
        if process is not None:
            done: dict[Any, Any] = {None: None}  # a sweep writes the same moment many times
            values = [done[v] if v in done else done.setdefault(v, process(v)) for v in values]
        columns.append(values)
    return list(zip(*columns, strict=True))


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (dicts with the same keys); a duplicate key raises IntegrityError."""
    if not rows:
        return
    names = list(rows[0])
    values = _converted(session, table, rows, names)
    connection = session.connection()
    dialect = connection.dialect
    columns = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    if dialect.name != "postgresql":
        marks = ", ".join("?" * len(names))
        connection.exec_driver_sql(f"INSERT INTO {table.name} ({columns}) VALUES ({marks})", values)
        return
    raw: Any = connection.connection.driver_connection
    statement = f"COPY {table.name} ({columns}) FROM STDIN"
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)
    except dialect.loaded_dbapi.IntegrityError as exc:  # as SQLAlchemy would have raised it
        raise IntegrityError(statement, None, exc) from exc


def update_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    fields: Sequence[str],
    key: str = "id",
) -> None:
    """Set `fields` of each row identified by its `key` column to the row's values."""
    if not rows:
        return
    names = [key, *fields]
    values = _converted(session, table, rows, names)
    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    if dialect.name != "postgresql":
        sets = ", ".join(f"{quote(n)} = ?" for n in fields)
        connection.exec_driver_sql(
            f"UPDATE {table.name} SET {sets} WHERE {quote(key)} = ?",
            [(*v[1:], v[0]) for v in values],
        )
        return
    arrays = ", ".join(f"CAST(:{n} AS {table.c[n].type.compile(dialect=dialect)}[])" for n in names)
    sets = ", ".join(f"{quote(n)} = v.{quote(n)}" for n in fields)
    params = {n: [v[i] for v in values] for i, n in enumerate(names)}
    session.execute(
        text(
            f"UPDATE {table.name} SET {sets} FROM unnest({arrays}) AS v({', '.join(names)}) "
            f"WHERE {table.name}.{quote(key)} = v.{quote(key)}"
        ),
        params,
    )


def among(column: Any, ids: Sequence[int], session: Session) -> Any:
    """`column IN ids` for thousands of ids: on PostgreSQL one array parameter (= ANY) instead
    of a placeholder per id, which costs more to build and to parse than the lookup itself."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(ids)
