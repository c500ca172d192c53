"""The schema is created only by migrations, and the migrations match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
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
