"""Helpers for the ops tests: an App on any URL, posts through the real intake, timelines."""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, func, select

from bot.app import App, build
from handlers.clock import FakeClock
from handlers.intake import receive
from ports.messages import Incoming
from ports.settings import DEMO_GRID, Settings
from storage.models import Event, Issue

START = datetime(2026, 11, 23, 9, 0)
TOPICS = ["路灯", "水渠", "垃圾", "道路", "桥", "水管", "电线", "围墙", "排水沟", "公厕"]
PROBLEMS = ["坏了", "塌了", "堵了", "漏了", "断了", "没人管", "好几天了", "有危险"]


def make(url: str, *, migrate: bool = True, start: datetime = START) -> App:
    settings = Settings(grid_file=DEMO_GRID, database_url=url)
    return build(settings, clock=FakeClock(start), database_url=url, migrate=migrate)


def post_text(i: int) -> str:
    """A clear matter, different from every other one (the duplicate finder must not merge)."""
    place = f"{i // 80 + 1}组{i % 80 + 1}号"
    # "第N次": a new occurrence, which handlers/duplicates.py never links to an earlier issue.
    return f"#村里事 第{i + 1}次说：{place}门口的{TOPICS[i % 10]}{PROBLEMS[(i // 10) % 8]}"


def post(app: App, i: int, *, chat: str = "新联村说事群", sender: str | None = None) -> None:
    who = sender or f"村民{i % 50}"
    receive(
        app.engine,
        app.deps,
        Incoming(
            platform="local",
            chat=chat,
            sender=who,
            sender_name=who,
            text=post_text(i),
            message_id=f"post-{i}",
            at=app.clock.now(),
        ),
    )


@contextmanager
def load(app: App, start: int = 10_000) -> Iterator[list[int]]:
    """Posts from a background thread for as long as the block runs; yields the count."""
    done = threading.Event()
    count = [0]

    def run() -> None:
        for i in itertools.count(start):
            if done.is_set():
                return
            post(app, i)
            count[0] += 1

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield count
    finally:
        done.set()
        thread.join(30)


def instant(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def timeline(engine: Any) -> list[tuple[Any, ...]]:
    """Every event of every issue, as comparable tuples (times as instants)."""
    with Session(engine) as session:
        rows = session.exec(select(Event).order_by(col(Event.id))).all()
        return [(e.id, e.issue_id, e.kind, e.actor, instant(e.at), e.detail) for e in rows]


def issues(engine: Any) -> list[tuple[Any, ...]]:
    with Session(engine) as session:
        rows = session.exec(select(Issue).order_by(col(Issue.id))).all()
        return [
            (
                i.id,
                i.number,
                i.kind,
                i.text,
                i.status,
                i.owner_id,
                instant(i.created_at),
                instant(i.due_at),
            )
            for i in rows
        ]


def count(engine: Any, model: Any) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


@contextmanager
def fresh_pg_database(base_url: str) -> Iterator[str]:
    """An empty database on the server of `base_url`, dropped afterwards."""
    name = f"shuoshi_ops_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def later(app: App, minutes: int) -> None:
    clock = app.clock
    assert isinstance(clock, FakeClock)
    clock.advance(timedelta(minutes=minutes))


class ThreadedBotApi:
    """tests/telegram/fake_bot_api.FakeBotApi on an event loop of its own thread, for code
    under test that runs its own loops or other processes."""

    def __init__(self, **kwargs: Any) -> None:
        import asyncio

        from tests.telegram.fake_bot_api import FakeBotApi

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.api: FakeBotApi = self.call(self._make(FakeBotApi, kwargs))
        self.call(self.api.start())

    @staticmethod
    async def _make(cls: Any, kwargs: dict[str, Any]) -> Any:
        return cls(**kwargs)  # its asyncio.Event must be made on its own loop

    def call(self, coro: Any, timeout: float = 30.0) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, fn: Any, *args: Any) -> Any:
        """Call a plain method of the fake on its loop (its state is the loop's)."""

        async def go() -> Any:
            return fn(*args)

        return self.call(go())

    def close(self) -> None:
        self.call(self.api.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def require_pg() -> str:
    """The test server's URL, or skip (fail under CI) as tests/conftest.py does."""
    import pytest

    from tests.conftest import IN_CI, PG_URL, _pg_available

    problem = _pg_available()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {problem}")
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({problem})")
    return PG_URL


def count_where(url: str, model: Any, **where: Any) -> int:
    """Rows of `model` matching `where`, on a connection of its own."""
    from storage.db import make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            query = select(func.count()).select_from(model)
            for name, value in where.items():
                query = query.where(getattr(model, name) == value)
            return int(session.exec(query).one())
    finally:
        engine.dispose()


NEW_TABLES = (
    "cannedreply",
    "team",
    "teammember",
    "residence",
    "vote",
    "ballot",
    "votepoll",
    "visit",
    "qrreport",
    "qrvillage",
)


def fill_new_tables(app: App) -> None:
    """A row in each table of migrations 0014–0017 (常用回复, 组 and homes, 议事 and 回访,
    说事码), tied to the first issue, group and person: at least one matter must exist."""
    import json

    from storage.admin_tables import CannedReply
    from storage.models import (
        Ballot,
        ChatGroup,
        Person,
        Residence,
        Team,
        TeamMember,
        Visit,
        Vote,
        VotePoll,
    )
    from storage.report_tables import QrReport, QrVillage

    now = app.clock.now().astimezone(UTC)
    with Session(app.engine) as session:
        issue = session.exec(select(Issue).order_by(col(Issue.id))).first()
        group = session.exec(select(ChatGroup).order_by(col(ChatGroup.id))).first()
        assert issue is not None and group is not None and group.id is not None, "post first"
        person = session.exec(
            select(Person).where(Person.village_id == group.village_id).order_by(col(Person.id))
        ).first()
        assert person is not None and person.id is not None and issue.id is not None
        village = group.village_id
        session.add(CannedReply(village_id=village, purpose="close", text="已修好", created_at=now))
        team = Team(village_id=village, name="九十九组", aliases="|99组|")
        session.add(team)
        session.flush()
        assert team.id is not None
        session.add(TeamMember(team_id=team.id, person_id=person.id))
        session.add(Residence(sender="local:老王", team_id=team.id, set_by="local:老王", at=now))
        vote = Vote(
            issue_id=issue.id,
            group_id=group.id,
            question="路灯装在哪？",
            choices=json.dumps(["村口", "桥头"], ensure_ascii=False),
            opened_by=person.name,
            opened_at=now,
            closes_at=now + timedelta(days=2),
        )
        session.add(vote)
        session.flush()
        assert vote.id is not None
        session.add(
            Ballot(vote_id=vote.id, voter="local:老王", voter_name="老王", choice=1, at=now)
        )
        session.add(VotePoll(poll_id="poll-1", vote_id=vote.id, chat="-100", message_id="7"))
        session.add(
            Visit(
                issue_id=issue.id,
                source_event=10_000_001,
                reason="closed",
                due_at=now + timedelta(days=7),
                created_at=now,
                note="回访：满意",
            )
        )
        session.add(
            QrReport(
                token="tok-1",
                village_id=village,
                group_id=group.id,
                team="三组",
                name="老王",
                phone="13800000000",
                address="addr:1",
                created_at=now,
            )
        )
        session.add(
            QrVillage(village_id=village, enabled=False, changed_at=now, changed_by="李书记")
        )
        session.commit()


def table_rows(engine: Any, names: Any = NEW_TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the named tables, ordered, with times as instants (comparable across
    SQLite and PostgreSQL)."""
    from sqlalchemy import MetaData, Table
    from sqlalchemy import select as sql_select

    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name in names:
            t = Table(name, MetaData(), autoload_with=conn)
            rows = conn.execute(sql_select(t).order_by(*t.primary_key.columns)).all()
            out[name] = [
                tuple(instant(v) if isinstance(v, datetime) else v for v in row) for row in rows
            ]
    return out
