"""The schema is created only by migrations, and the migrations match the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from storage.db import current_revision, head_revision, make_engine


def test_migrated_database_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert current_revision(engine) == head_revision()
    engine.dispose()
    # Full-text search structures are raw SQL in their migration (FTS5 tables, a trigram
    # index) with no model: anything else the models and the schema disagree on is a bug.
    diff = [d for d in diff if not (d[0] in ("remove_table", "remove_index") and _search(d[1]))]
    assert diff == []


def _search(obj: object) -> bool:
    return "search" in str(getattr(obj, "name", "")) or "grams" in str(getattr(obj, "name", ""))


def test_the_migrations_are_one_linear_chain() -> None:
    """One base, one head, each revision the next of one other (nothing is released yet:
    no branches to merge, `shuoshi db upgrade` goes to "head")."""
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_bases()) == 1 and len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert all(not r.is_merge_point and not r.is_branch_point for r in revisions)


def test_the_issue_tally_triggers_survive_every_later_migration(database_url: str) -> None:
    """A later migration that rebuilds the issue table (a batch on SQLite) would drop the
    triggers 0004 made; the figures would then silently stop counting."""
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(database_url)
    sql = (
        "select name from sqlite_master where type='trigger'"
        if engine.dialect.name == "sqlite"
        else "select tgname from pg_trigger where not tgisinternal"
    )
    with engine.connect() as conn:
        names = {row[0] for row in conn.execute(text(sql))}
    engine.dispose()
    assert {n for n in names if n.startswith("issue_tally")}, names


BEFORE_THIS_RELEASE = "0013_issue_group_stub"


@pytest.fixture
def empty_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of the kind of `backend` with no table at all."""
    if backend.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    from tests.ops.util import fresh_pg_database, require_pg

    with fresh_pg_database(require_pg()) as url:
        yield url


def _counts(engine: Engine) -> dict[str, int]:
    from sqlalchemy import func, inspect, select, table

    with engine.connect() as conn:
        names = [n for n in inspect(conn).get_table_names() if not n.startswith("sqlite_")]
        return {
            n: int(conn.execute(select(func.count()).select_from(table(n))).scalar_one())
            for n in names
        }


def test_a_database_with_data_goes_down_to_0013_and_up_to_head(empty_url: str) -> None:
    """An operator's server holding matters, people and this release's rows: `downgrade` to
    0013 keeps every row of the older tables, and the upgrade back to head (what `shuoshi run`
    does after an update) keeps them again; the bot then goes on working on it."""
    from alembic import command

    from storage.db import alembic_config, upgrade
    from tests.ops.util import NEW_TABLES, fill_new_tables, make, post

    app = make(empty_url)
    for i in range(5):
        post(app, i)
    fill_new_tables(app)
    app.engine.dispose()
    engine = make_engine(empty_url)
    at_head = _counts(engine)
    older = {n: c for n, c in at_head.items() if n not in NEW_TABLES}
    assert older["issue"] == 5 and older["person"] > 0 and older["event"] > 0

    command.downgrade(alembic_config(empty_url), BEFORE_THIS_RELEASE)
    assert current_revision(engine) == BEFORE_THIS_RELEASE
    at_0013 = _counts(engine)
    assert not set(NEW_TABLES) & set(at_0013)
    assert {n: at_0013[n] for n in older} == older

    upgrade(engine)
    assert current_revision(engine) == head_revision()
    after = _counts(engine)
    assert {n: after[n] for n in older} == older
    assert all(after[n] == 0 for n in NEW_TABLES)
    engine.dispose()

    app = make(empty_url, migrate=True)  # as `shuoshi run` starts on it
    post(app, 99)
    fill_new_tables(app)
    assert _counts(app.engine)["issue"] == 6
    app.engine.dispose()
