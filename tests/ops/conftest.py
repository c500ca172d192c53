"""An empty PostgreSQL database for tests that restore or copy into one: created once per
session, emptied (schema dropped and made again) before each use, which is much quicker than
CREATE DATABASE each time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.ops.util import fresh_pg_database, require_pg


@pytest.fixture(scope="session")
def scratch_pg() -> Iterator[str]:
    with fresh_pg_database(require_pg()) as url:
        yield url


@pytest.fixture
def empty_pg(scratch_pg: str) -> str:
    engine = create_engine(scratch_pg, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return scratch_pg
