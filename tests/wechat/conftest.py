"""The mock Wechaty gateway (deploy/wechaty-gateway with wechaty-puppet-mock) on free ports, and a
`World`: an App with the WeChat bot connected to it, a villager room, and the control endpoint.

Needs `node` and `npm ci` in deploy/wechaty-gateway (`make gateway-deps`); without them the tests
skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from sqlmodel import Session, col, func, select

from bot.app import App, running, wechat_door
from bot.wechat import WechatBot
from bot.wechat_client import ClientOptions
from ports.settings import DEMO_GRID, REPO_ROOT
from storage.models import Inbound, Issue

IN_CI = os.environ.get("CI") == "true"
GATEWAY_DIR = REPO_ROOT / "deploy" / "wechaty-gateway"
TOKEN = "insecure_shuoshi-test-token"
BOT_ID = "wxid_shuoshi_bot"
BOT_NAME = "说事"
ROOM = "20999@chatroom"  # 新联村说事群 in the demo grid
VILLAGER = "wxid_zhangdaye"
ZHANGJIE = "wxid_zhangjie"  # 张姐, grid member of 新联村 (added to the grid below)
WANGGE = "wxid_wangge"  # 王哥, grid member of 新联村
T = TypeVar("T")


def gateway_problem() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (Node 20 runs the Wechaty gateway)"
    if not (GATEWAY_DIR / "node_modules" / "wechaty-puppet-service").is_dir():
        return "the gateway's npm packages are missing: run `make gateway-deps`"
    return None


def require_gateway() -> None:
    problem = gateway_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"the WeChat tests need the mock gateway under CI=true: {problem}")
        pytest.skip(problem)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gateway:
    """deploy/wechaty-gateway/gateway.js with the mock puppet, as a child process."""

    def __init__(self, log_dir: Path, *, tls: bool = False, token: str = TOKEN) -> None:
        self.log = log_dir / f"gateway-{id(self)}.log"
        self.tls = tls
        self.token = token
        self.grpc_port = free_port()
        self.control_port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "WECHATY_PUPPET": "wechaty-puppet-mock",
            "WECHATY_TOKEN": self.token,
            "WECHATY_PUPPET_SERVER_PORT": str(self.grpc_port),
            "GATEWAY_CONTROL_PORT": str(self.control_port),
            "WECHATY_LOG": "error",
        }
        if not self.tls:
            env["WECHATY_PUPPET_SERVICE_NO_TLS"] = "true"
        start = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                ["node", "gateway.js"], cwd=GATEWAY_DIR, env=env, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = self.log.read_bytes()[start:].decode("utf-8", "replace")
            for line in text.splitlines():
                if line.startswith("wechaty-gateway ready "):
                    ready = json.loads(line.split(" ", 2)[2])
                    self.control_port = int(ready["control"].rsplit(":", 1)[1])
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the gateway did not start:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()  # as a crash would; a graceful stop takes the gateway seconds
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.control_port}{path}", data=data, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read().decode()}") from exc


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One mock gateway for the session; each World resets it."""
    require_gateway()
    gw = Gateway(tmp_path_factory.mktemp("gateway"))
    gw.start()
    yield gw
    gw.stop()


def wechat_grid(tmp: Path) -> Path:
    """The demo grid plus WeChat ids for 张姐 and 王哥, and 石桥村说事群 named by its topic."""
    text = DEMO_GRID.read_text(encoding="utf-8")
    for old, new in (
        ('ids = ["local:张姐"]', f'ids = ["local:张姐", "wechat:{ZHANGJIE}"]'),
        ('ids = ["local:王哥"]', f'ids = ["local:王哥", "wechat:{WANGGE}"]'),
        (
            'chats = ["local:石桥村说事群"]',
            'chats = ["local:石桥村说事群", "wechat-topic:石桥村说事群"]',
        ),
    ):
        assert old in text, old
        text = text.replace(old, new)
    path = tmp / "grid.toml"
    path.write_text(text, encoding="utf-8")
    return path


def fast_options(gw: Gateway) -> ClientOptions:
    return ClientOptions(
        endpoint=gw.endpoint,
        token=gw.token,
        tls=gw.tls,
        connect_timeout=5,
        call_timeout=5,
        ding_interval=1,
        silence_timeout=5,
        backoff_base=0.1,
        backoff_cap=0.5,
        stable_after=1,
    )


# No rate limits in tests (scheduler tests cover them): answers go out as fast as they can.
UNLIMITED = {"wechat_chat_max_per_second": 0, "wechat_room_max_per_minute": 0}


def make_bot(app: App, gw: Gateway) -> WechatBot:
    return wechat_door(app, fast_options(gw))


async def until(check: Callable[[], T], timeout: float = 10, what: str = "") -> T:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


class World:
    """The bot connected to the mock gateway: villagers talk through the control endpoint."""

    def __init__(self, app: App, gateway: Gateway, bot: WechatBot) -> None:
        self.app = app
        self.gw = gateway
        self.bot = bot

    def setup_people(self) -> None:
        gw = self.gw
        for cid, name in (
            (BOT_ID, BOT_NAME),
            (VILLAGER, "张大爷"),
            (ZHANGJIE, "张姐"),
            (WANGGE, "王哥"),
            ("wxid_li", "李婶"),
        ):
            gw.control("POST", "/contacts", {"id": cid, "name": name})
        members = [VILLAGER, ZHANGJIE, WANGGE, "wxid_li", BOT_ID]
        self.room(ROOM, "新联村说事群", members)

    def room(self, room_id: str, topic: str, members: list[str] | None = None) -> None:
        members = members or [VILLAGER, "wxid_li", BOT_ID]
        self.gw.control("POST", "/rooms", {"id": room_id, "topic": topic, "memberIds": members})

    async def login(self) -> None:
        await until(self.bot.client.connected.is_set, what="the bot to connect")
        self.gw.control("POST", "/login", {"id": BOT_ID, "name": BOT_NAME})
        await until(lambda: self.bot.client.status.logged_in, what="LOGIN")

    def say(self, who: str, text: str = "", *, room: str | None = ROOM, **extra: Any) -> str:
        body: dict[str, Any] = {"from": who, "text": text, **extra}
        if room is not None:
            body["roomId"] = room
        return str(self.gw.control("POST", "/messages", body)["messageId"])

    def sent(self) -> list[dict[str, Any]]:
        return list(self.gw.control("GET", "/sent"))

    async def next_sent(
        self, start: int, match: Callable[[dict[str, Any]], bool] = lambda m: True
    ) -> dict[str, Any]:
        """The first message the bot sent after the first `start` ones that matches."""

        def find() -> dict[str, Any] | None:
            return next((m for m in self.sent()[start:] if match(m)), None)

        found = await until(find, what="a message from the bot")
        assert found is not None
        return found

    def issues(self) -> list[Issue]:
        with Session(self.app.engine) as session:
            return list(session.exec(select(Issue).order_by(col(Issue.number))).all())

    def inbound_count(self, **where: Any) -> int:
        with Session(self.app.engine) as session:
            query = select(func.count()).select_from(Inbound)
            for name, value in where.items():
                query = query.where(getattr(Inbound, name) == value)
            return session.exec(query).one()

    def handled_after(self, before: int) -> Callable[[], bool]:
        return lambda: self.bot.handled > before


@pytest_asyncio.fixture
async def world(
    gateway: Gateway, make_app: Callable[..., App], tmp_path: Path
) -> AsyncIterator[World]:
    gateway.control("POST", "/reset", {})
    app = make_app(grid=wechat_grid(tmp_path), data_dir=tmp_path / "data", **UNLIMITED)
    bot = make_bot(app, gateway)
    w = World(app, gateway, bot)
    w.setup_people()
    async with running(app, bot):
        await w.login()
        yield w
