"""Faults, in short form (the long run is bench/faults.py, docs/benchmarks.md): the database
going away, a full disk, and kill -9 in the middle of a burst. Nothing a villager said is lost,
nothing is handled twice, and the bot goes on by itself once the fault is over. Issue 14.

- Database away (PostgreSQL): the bot reaches the api through a TCP relay that the test
  cuts (every connection dropped, new ones refused) and restores.
- Full disk (SQLite): the database file may not grow (`PRAGMA max_page_count`), which is what
  SQLite answers on a full disk ("database or disk is full").
- kill -9 (SQLite; PostgreSQL's is tests/ops/test_scale_out.py): `shuoshi run` is SIGKILLed after
  a third of a burst of webhook posts and started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlmodel import Session, func, select

from bot.app import App, build, telegram_door
from bot.app import running as door_running
from handlers.clock import FakeClock
from handlers.intake import retry_due
from ports.settings import Settings
from storage.models import Inbound, Issue
from tests.ops.cluster import make_posts, running
from tests.ops.test_scale_out import ENV, settle
from tests.telegram.conftest import GRID, GROUP, TOKEN, VILLAGER
from tests.telegram.fake_bot_api import FakeBotApi

POSTS = [
    "村口路灯坏了好几天了",
    "三组的水渠塌了一段，田里放不进水",
    "桥栏杆断了很危险，小孩子过桥怕掉下去",
    "后山滑坡，石头滚到路上了",
    "垃圾站好几天没人拉了，臭得很",
]


class Relay:
    """A TCP relay to the database api that can be cut (connections dropped, new ones
    refused) and restored, run in a thread."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                api = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, api]
            for a, b in ((client, api), (api, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            self.sockets.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def _app(database_url: str, tmp_path: Path, api: FakeBotApi) -> App:
    settings = Settings(
        grid_file=GRID,
        database_url=database_url,
        data_dir=tmp_path / "data",
        telegram_bot_token=TOKEN,
        telegram_base_url=api.base_url,
        telegram_max_per_second=0,
        telegram_chat_max_per_second=0,
        telegram_group_max_per_minute=0,
        outbox_poll_seconds=0.05,
    )
    return build(settings, clock=FakeClock(datetime(2026, 11, 23, 9, 0)), migrate=False)


def _counts(app: App) -> tuple[int, int]:
    with Session(app.engine) as session:
        issues = session.exec(select(func.count()).select_from(Issue)).one()
        inbox = session.exec(select(func.count()).select_from(Inbound)).one()
    return issues, inbox


@contextlib.asynccontextmanager
async def _door(app: App) -> AsyncIterator[None]:
    async with door_running(app, telegram_door(app, None)) as door:
        await asyncio.wait_for(door.connected.wait(), 10)
        yield


async def _through_a_fault(app: App, api: FakeBotApi, start: Any, end: Any) -> None:
    """Posts arrive while the fault lasts; once it is over each is handled exactly once."""
    async with _door(app):
        api.post_text(GROUP, VILLAGER, "说事 祠堂屋顶漏雨了", first_name="张大爷")
        await api.wait_sent(1, chat_id=GROUP)  # working before the fault
        start()
        for k, text in enumerate(POSTS):
            api.post_text(GROUP, VILLAGER + 1 + k, f"说事 {text}", first_name=f"村民{k}")
        await asyncio.sleep(1.5)
        during = len([s for s in api.sent if s.chat_id == GROUP])
        end()
        # What `shuoshi run`'s inbox-retry job does every few seconds (scheduler/jobs.py):
        # a message whose handling failed during the fault is tried again once it is due.
        retrying = asyncio.create_task(_retry_job(app))
        try:
            acks = await api.wait_sent(1 + len(POSTS), chat_id=GROUP, timeout=30)
        finally:
            retrying.cancel()
        await asyncio.sleep(0.3)  # a second copy, if any, would have come by now
        acks = [s for s in api.sent if s.chat_id == GROUP]
    assert during < 1 + len(POSTS)  # the fault was real: not everything got through
    numbers = sorted(s.plain_text.split("#")[1].split("【")[0] for s in acks if s.plain_text)
    assert numbers == [str(n) for n in range(1, 2 + len(POSTS))]  # each once, none twice
    assert _counts(app) == (1 + len(POSTS), 1 + len(POSTS))


async def _retry_job(app: App) -> None:
    clock = app.clock
    assert isinstance(clock, FakeClock)
    while True:
        clock.advance(timedelta(seconds=30))
        await asyncio.to_thread(retry_due, app.engine, app.deps)
        await asyncio.sleep(0.2)


@pytest_asyncio.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBotApi]:
    """The fake Telegram Bot API (as tests/telegram uses it)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture
def relay(database_url: str) -> Iterator[tuple[Relay, str]]:
    url = make_url(database_url)
    r = Relay(url.host or "127.0.0.1", url.port or 5432)
    yield r, url.set(host="127.0.0.1", port=r.port).render_as_string(hide_password=False)
    r.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_database_away_then_back_loses_and_repeats_nothing(
    relay: tuple[Relay, str], api: FakeBotApi, tmp_path: Path
) -> None:
    r, url = relay
    app = _app(url, tmp_path, api)
    try:
        await _through_a_fault(app, api, r.cut, r.restore)
    finally:
        app.engine.dispose()


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_full_disk_then_space_again_loses_and_repeats_nothing(
    database_url: str, api: FakeBotApi, tmp_path: Path
) -> None:
    app = _app(database_url, tmp_path, api)
    full = {"on": False}

    @event.listens_for(app.engine, "checkout")
    def _disk(dbapi_conn: Any, *_: Any) -> None:
        cur = dbapi_conn.cursor()
        if full["on"]:  # not one page more than the file has now
            pages = cur.execute("PRAGMA page_count").fetchone()[0]
            cur.execute(f"PRAGMA max_page_count={int(pages)}")
        else:
            cur.execute("PRAGMA max_page_count=1073741823")
        cur.close()

    def fill() -> None:
        full["on"] = True
        app.engine.pool.dispose()  # connections in use pick it up at their next checkout

    try:
        await _through_a_fault(app, api, fill, lambda: full.update(on=False))
    finally:
        app.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_kill_9_mid_burst_then_restart_loses_nothing(database_url: str, tmp_path: Path) -> None:
    with running(tmp_path, database_url, groups=6, villages=2, env=ENV) as cluster:
        cluster.prepare()
        [first] = cluster.start(1)
        posts = make_posts(45, cluster.groups)

        async def burst() -> None:
            sending = asyncio.create_task(
                cluster.send_all(posts, concurrency=8, redeliver=0.1, kill=(15, first))
            )
            while first.alive:
                await asyncio.sleep(0.05)
            await asyncio.to_thread(cluster.start, 1)  # the operator (or systemd) restarts it
            await sending

        asyncio.run(burst())
        acks, outbox = settle(cluster, database_url, posts)  # each recorded once, a matter
        missing = [p.n for p in posts if not acks.replies.get((p.chat, p.message_id))]
        assert not missing, f"not acknowledged: {missing}"
        assert set(outbox) == {"sent"}, outbox
