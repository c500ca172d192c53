"""A real python-telegram-bot door against the fake Bot API server, in polling or webhook mode."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
import uvicorn
from sqlmodel import Session, SQLModel, func, select

from bot.app import App, running, telegram_door
from bot.telegram import TelegramDoor
from tests.telegram.fake_bot_api import FakeBotApi

TOKEN = "123:ABC"
BOT_ID = 123
GROUP = -1001234567890  # 新联村说事群 in grid.toml
OTHER_GROUP = -1002000000001  # 石桥村说事群
SECRETARY, ZHANG, WANG = 10001, 10002, 10003  # 李书记, 张姐 (网格员), 王哥 (网格员)
VILLAGER, NEIGHBOUR = 20001, 20002
GRID = Path(__file__).parent / "grid.toml"
T = TypeVar("T")


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22.x warns (an error here) when a duration is read as int; opt in to timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture
def tg_app(make_app: Callable[..., App], server: FakeBotApi, tmp_path: Path) -> App:
    """The app with Telegram settings; the sender's rate limits off (tests send in bursts)."""
    return make_app(
        grid=GRID,
        data_dir=tmp_path / "data",
        telegram_bot_token=TOKEN,
        telegram_base_url=server.base_url,
        telegram_max_per_second=0,
        telegram_chat_max_per_second=0,
        telegram_group_max_per_minute=0,
        outbox_poll_seconds=0.05,
    )


@asynccontextmanager
async def door_running(app: App, web: Any = None) -> AsyncIterator[TelegramDoor]:
    async with running(app, telegram_door(app, web)) as door:
        await asyncio.wait_for(door.connected.wait(), 5)
        yield door


@pytest_asyncio.fixture
async def door(tg_app: App) -> AsyncIterator[TelegramDoor]:
    """The door in polling mode."""
    async with door_running(tg_app) as running_door:
        yield running_door


def free_socket() -> socket.socket:
    """A listening address on 127.0.0.1 chosen now, so its url can go into the settings."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def admin_server(app: App, sock: socket.socket) -> AsyncIterator[Any]:
    """The admin app (FastAPI) under uvicorn on `sock`."""
    from admin.app import create_app

    web = create_app(app)
    server = uvicorn.Server(uvicorn.Config(web, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield web
    finally:
        server.should_exit = True
        await task
        sock.close()


async def until(predicate: Callable[[], T], timeout: float = 5.0) -> T:
    """Wait until `predicate()` (which may read the database) is truthy; return its value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


def count(app: App, model: type[SQLModel], *where: Any) -> int:
    with Session(app.engine) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def rows(app: App, model: type[T], *where: Any, order: Any = None) -> list[T]:
    with Session(app.engine) as session:
        query = select(model).where(*where)  # type: ignore[call-overload]
        if order is not None:
            query = query.order_by(order)
        return list(session.exec(query).all())
