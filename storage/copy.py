"""`shuoshi db copy --to URL`: every row of the configured database into another one (SQLite →
PostgreSQL when a village outgrows one box), table by table, with the counts checked.

1. The source must be at the head revision; the target is migrated to it (the schema always
   comes from the migrations, never from here).
2. The target must be empty (`force` empties it first).
3. Tables are copied parents first (foreign keys), in one transaction on the target: a failure
   leaves it as it was. Rows keep their ids; PostgreSQL's id sequences are then moved past the
   largest id, so the next issue, message… gets a fresh one.
4. Every table's count is compared; any difference is an error.

Times: the models store UTC (SQLModel's UTCDateTime); SQLite keeps it without an offset,
PostgreSQL as `timestamp with time zone`. A time read without an offset (a table the models do
not know, read through reflection) is taken as UTC.

Runtime-only tables are not copied: `lease` (who reads a gateway now) starts afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, MetaData, Table, func, inspect, select, text
from sqlalchemy import table as named_table
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage.db import current_revision, head_revision, make_engine, upgrade

log = logging.getLogger(__name__)

SKIP = {"alembic_version", "lease"}
BATCH = 2000


class CopyError(Exception):
    """Why the copy did not happen, in words for the operator."""


def copy_database(
    source_url: str,
    target_url: str,
    *,
    force: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Copy all rows; returns {table: rows copied}. Raises CopyError."""
    if _same(source_url, target_url):
        raise CopyError("源库和目标库是同一个库")
    source = make_engine(source_url)
    target = make_engine(target_url)
    try:
        return _copy(source, target, force, progress)
    finally:
        source.dispose()
        target.dispose()


def _same(a: str, b: str) -> bool:
    from sqlalchemy.engine import make_url

    return make_url(a).render_as_string(hide_password=False) == make_url(b).render_as_string(
        hide_password=False
    )


def _copy(
    source: Engine,
    target: Engine,
    force: bool,
    progress: Callable[[str, int], None] | None,
) -> dict[str, int]:
    try:
        at = current_revision(source)
    except Exception as exc:
        raise CopyError(f"连不上源数据库：{exc}") from exc
    if at != head_revision():
        raise CopyError(
            f"源数据库在迁移版本 {at}，代码要求 {head_revision()}：先运行 shuoshi db upgrade"
        )
    try:
        upgrade(target)
    except Exception as exc:
        raise CopyError(f"目标数据库无法连接或迁移：{exc}") from exc
    tables = _tables(target)
    source_tables = set(inspect(source).get_table_names())
    counts: dict[str, int] = {}
    with target.begin() as out, source.connect() as src:
        full = [t.name for t in tables if _count(out, t) > 0]
        if full and not force:
            raise CopyError(
                "目标数据库里已经有数据（"
                + "、".join(full[:5])
                + "…）：先清空它，或加 --force 覆盖"
            )
        if full:
            _empty(out, tables)
        for table in tables:
            if table.name not in source_tables:
                counts[table.name] = 0
                continue
            copied = 0
            for rows in _read(src, table):
                out.execute(table.insert(), rows)
                copied += len(rows)
                if progress:
                    progress(table.name, copied)
            counts[table.name] = copied
        if out.dialect.name == "postgresql":
            _fix_sequences(out, tables)
        for table in tables:
            if table.name in source_tables:
                have = _count(out, table)
                count = select(func.count()).select_from(named_table(table.name))
                want = src.execute(count).scalar()
                if have != want:
                    raise CopyError(f"表 {table.name}：源库 {want} 行，目标库 {have} 行")
    return counts


def _tables(engine: Engine) -> list[Table]:
    """The target's tables, parents before children; derived tables (the tally kept by
    triggers, the search table) are left for the target to compute itself."""
    from storage.search import is_derived_table

    meta = MetaData()
    meta.reflect(engine)
    return [t for t in meta.sorted_tables if t.name not in SKIP and not is_derived_table(t.name)]


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _empty(conn: Connection, tables: list[Table]) -> None:
    if conn.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return
    for table in reversed(tables):
        conn.execute(table.delete())


def _read(src: Connection, target: Table) -> Iterator[list[dict[str, Any]]]:
    """The source rows for `target`, in batches, typed by the models where they know the table
    (the reflected SQLite types otherwise) and with times made to fit the target column."""
    known = SQLModel.metadata.tables.get(target.name)
    reflected = Table(target.name, MetaData(), autoload_with=src)
    names = [c.name for c in target.columns if c.name in reflected.c]
    columns = [known.c[n] if known is not None and n in known.c else reflected.c[n] for n in names]
    aware = {n: bool(getattr(target.c[n].type, "timezone", False)) for n in names}
    order = [c for c in columns if c.primary_key] or columns[:1]
    result = src.execution_options(stream_results=True).execute(select(*columns).order_by(*order))
    while True:
        chunk = result.fetchmany(BATCH)
        if not chunk:
            return
        yield [{n: _time(v, aware[n]) for n, v in zip(names, row, strict=True)} for row in chunk]


def _time(value: Any, aware: bool) -> Any:
    if not isinstance(value, datetime):
        return value
    if aware and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if not aware and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _fix_sequences(conn: Connection, tables: list[Table]) -> None:
    for table in tables:
        for column in table.primary_key.columns:
            if not _integer(column):
                continue
            seq = conn.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar()
            if seq:
                conn.execute(
                    text(
                        f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") '
                        f'FROM "{table.name}"), 0) + 1, false)'
                    ),
                    {"s": seq},
                )


def _integer(column: Column[Any]) -> bool:
    try:
        return column.type.python_type is int
    except NotImplementedError:
        return False
