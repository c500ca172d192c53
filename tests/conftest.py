"""Real objects for tests: a migrated database on SQLite and on PostgreSQL, an App with a
fake clock, and a chat driver that speaks the scenario format."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, func, select

from bot.app import App, build
from bot.local import ScriptRunner
from handlers.clock import FakeClock
from ports.settings import DEMO_GRID, Settings
from scheduler.jobs import make_ticker
from storage.db import make_engine, upgrade

IN_CI = os.environ.get("CI") == "true"
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = datetime(2026, 11, 23, 9, 0)  # a Monday


@pytest.fixture(autouse=True)
def _root_logging() -> Iterator[None]:
    """A test that runs a command in-process configures logging (ops.logs.configure) with a
    handler on the stream pytest captured for that test: put the root logger back afterwards,
    so later tests do not log into a closed stream."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: no server here
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated template database per test session; tests get a clean copy of it."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        yield f"sqlite:///{path}"
        return
    problem = _pg_available()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {problem}")
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({problem})")
    # Our own database, so parallel runs on one server never see each other's rows.
    name = f"shuoshi_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> str:
    if backend.startswith("sqlite"):
        template = Path(backend.split("///", 1)[1])
        copy = tmp_path / "test.db"
        shutil.copy(template, copy)
        return f"sqlite:///{copy}"
    engine = create_engine(backend)
    tables = [t.name for t in SQLModel.metadata.sorted_tables]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return backend


@pytest.fixture
def make_app(database_url: str) -> Iterator[Callable[..., App]]:
    made: list[App] = []

    def factory(grid: Path = DEMO_GRID, start: datetime = START, **settings: object) -> App:
        s = Settings(grid_file=grid, database_url=database_url, **settings)  # type: ignore[arg-type]
        app = build(s, clock=FakeClock(start), database_url=database_url, migrate=False)
        made.append(app)
        return app

    yield factory
    for app in made:
        app.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()


class Chat:
    """Drives the bot with scenario lines; `say` returns the transcript lines it produced."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.runner = ScriptRunner(app, on_tick=make_ticker(app))
        self.runner.chat = self.runner._local_chat("新联村说事群")
        self.runner.group_name = "新联村说事群"
        self._line = 0

    def say(self, script: str) -> list[str]:
        before = len(self.runner.lines)
        lines = script.strip().splitlines()
        asyncio.run(self.runner.run_lines(lines, self._line + 1))
        self._line += len(lines)
        return self.runner.lines[before:]

    def bot_lines(self, script: str) -> list[str]:
        return [line for line in self.say(script) if " → " in line]

    def count(self, model: type[SQLModel]) -> int:
        with Session(self.app.engine) as session:
            return session.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def chat(app: App) -> Chat:
    return Chat(app)
