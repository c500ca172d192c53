"""Several `shuoshi run` processes on one PostgreSQL database, taking Telegram posts through
the webhook route, as in production behind a load balancer; the Telegram Bot API is the fake
of tests/telegram on 127.0.0.1, and this module plays Telegram and the load balancer.

Used by tests/ops/test_scale_out.py (short) and bench/soak.py (long). Everything listens on
127.0.0.1 only, and every loop here is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.ops.util import ThreadedBotApi

TOKEN = "123456:" + "S" * 35
SECRET = "cluster-webhook-secret"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
FIRST_MESSAGE_ID = 10_000_000
KINDS = ("村里事", "邻里事", "户里事")
CHATTER = ["收到", "好的谢谢", "大家早上好", "明天几点开会？", "👍", "辛苦了", "知道了"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def group_chat(g: int) -> int:
    return -1_001_000_000_000 - g


def grid_toml(groups: int, villages: int, extra_chats: tuple[str, ...] = ()) -> str:
    """A town of `villages` villages sharing `groups` groups; each village has a secretary
    and one grid member who takes every kind, all on Telegram."""
    lines = [
        'timezone = "Asia/Shanghai"',
        'quiet_hours = "03:00-03:01"',
        "[town]",
        'name = "压测镇"',
        "[[town.people]]",
        'name = "镇长"',
        'role = "镇领导"',
        'ids = ["telegram:800000"]',
    ]
    for v in range(villages):
        lines += [
            "[[villages]]",
            f'name = "第{v + 1:03d}村"',
            "[[villages.people]]",
            f'name = "书记{v + 1:03d}"',
            'role = "书记"',
            "kinds = []",
            f'ids = ["telegram:{810_000 + v}"]',
            "[[villages.people]]",
            f'name = "网格员{v + 1:03d}"',
            'role = "网格员"',
            f"kinds = {json.dumps(list(KINDS), ensure_ascii=False)}",
            f'ids = ["telegram:{820_000 + v}"]',
        ]
        for g in range(v, groups, villages):
            chats = [f"telegram:{group_chat(g)}", *(extra_chats if g == 0 else ())]
            lines += [
                "[[villages.groups]]",
                f'name = "第{v + 1:03d}村第{g + 1:03d}群"',
                f"chats = {json.dumps(chats)}",
            ]
    return "\n".join(lines) + "\n"


@dataclass
class Post:
    n: int
    chat: int
    user: int
    text: str
    matter: bool
    update_id: int = 0
    message_id: int = 0
    posted_at: float | None = None  # first successful delivery (monotonic)
    tries: int = 0

    def update(self) -> dict[str, Any]:
        return {
            "update_id": self.update_id,
            "message": {
                "message_id": self.message_id,
                "from": {"id": self.user, "is_bot": False, "first_name": f"村民{self.user % 1000}"},
                "chat": {"id": self.chat, "type": "supergroup", "title": f"群{-self.chat}"},
                "date": int(time.time()),
                "text": self.text,
            },
        }


def make_posts(
    count: int, groups: int, *, matter_share: float = 1.0, start: int = 0, seed: int = 7
) -> list[Post]:
    """Posts spread over the groups; `matter_share` of them are clear matters (an explicit
    tag, and "第N次": a new occurrence, which the duplicate finder never links to an earlier
    issue), the rest chatter."""
    rng = random.Random(seed + start)
    posts = []
    for n in range(start, start + count):
        g = rng.randrange(groups)
        matter = rng.random() < matter_share
        text = (
            f"#{KINDS[n % 3]} 第{n + 1}次反映：{n % 97}组{n % 13 + 1}号门口的"
            f"{['路灯', '水渠', '垃圾', '道路', '水管'][n % 5]}出了问题，编号{n}"
            if matter
            else CHATTER[n % len(CHATTER)]
        )
        posts.append(
            Post(
                n,
                group_chat(g),
                900_000 + rng.randrange(5000),
                text,
                matter,
                update_id=100_000 + n,
                message_id=FIRST_MESSAGE_ID + n,
            )
        )
    return posts


@dataclass
class Instance:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Acks:
    """What the fake Bot API was asked to send, stamped on arrival."""

    replies: Counter[tuple[int, int]] = field(default_factory=Counter)  # (chat, replied id)
    first: dict[tuple[int, int], float] = field(default_factory=dict)
    private: int = 0
    total: int = 0


class Cluster:
    def __init__(
        self,
        root: Path,
        database_url: str,
        *,
        groups: int = 40,
        villages: int = 10,
        env: dict[str, str] | None = None,
        extra_chats: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self.database_url = database_url
        self.groups = groups
        self.grid = root / "grid.toml"
        self.grid.write_text(grid_toml(groups, villages, extra_chats), encoding="utf-8")
        self.env = env or {}
        self.instances: list[Instance] = []
        self.api = ThreadedBotApi(can_read_all_group_messages=True)
        self.acks = Acks()
        self._wrap_send()
        self.responses: Counter[int] = Counter()
        self.answer_times: list[float] = []  # seconds from POST to the 200
        self.failovers = 0

    # ---------------------------------------------------------------- the fake's side

    def _wrap_send(self) -> None:
        api = self.api.api
        original = api._methods["sendmessage"]
        acks = self.acks

        async def send_message(call: Any) -> Any:
            result = await original(call)
            chat = int(result["chat"]["id"])
            replied = result.get("reply_to_message", {}).get("message_id")
            acks.total += 1
            if chat > 0:
                acks.private += 1
            elif replied is not None:
                key = (chat, int(replied))
                acks.replies[key] += 1
                acks.first.setdefault(key, time.monotonic())
            return result

        api._methods["sendmessage"] = send_message

    def ack_counts(self) -> Acks:
        """A consistent copy, read on the fake's loop."""

        def copy() -> Acks:
            a = self.acks
            return Acks(Counter(a.replies), dict(a.first), a.private, a.total)

        result: Acks = self.api.run(copy)
        return result

    # ---------------------------------------------------------------- instances

    def prepare(self) -> None:
        """Migrate and load the grid once, before the instances start (two instances starting
        on an empty database would race to create the same rows)."""
        from bot.app import build
        from ports.settings import Settings

        settings = Settings(database_url=self.database_url, grid_file=self.grid)
        app = build(settings)
        app.engine.dispose()

    def start(self, count: int = 2) -> list[Instance]:
        started = [self._spawn(f"i{len(self.instances) + k + 1}") for k in range(count)]
        self.instances += started
        deadline = time.monotonic() + 90
        for inst in started:
            while True:
                if not inst.alive:
                    raise RuntimeError(f"{inst.name} exited:\n{inst.log.read_text()[-3000:]}")
                try:
                    if httpx.get(f"{inst.url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{inst.name} did not start:\n{inst.log.read_text()[-3000:]}"
                    )
                time.sleep(0.2)
        # Connected to (the fake) Telegram: each set its webhook.
        while self.api.run(lambda: len(self.api.api.calls_to("setWebhook"))) < len(self.instances):
            if time.monotonic() > deadline:
                raise RuntimeError("the instances did not connect to the Bot API")
            time.sleep(0.1)
        return started

    def _spawn(self, name: str) -> Instance:
        port = free_port()
        home = self.root / name
        (home / "data").mkdir(parents=True, exist_ok=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(
                ("DATABASE_", "TELEGRAM_", "WECHATY_", "GRID_", "ADMIN_", "OUTBOX_")
            )
        }
        env |= {
            "DATABASE_URL": self.database_url,
            "GRID_FILE": str(self.grid),
            "DATA_DIR": str(home / "data"),
            "ADMIN_HOST": "127.0.0.1",
            "ADMIN_PORT": str(port),
            "ADMIN_CHAT": "false",
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": self.api.api.base_url,
            "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        command = Path(sys.executable).with_name("shuoshi")
        argv = (
            [str(command), "run"] if command.exists() else [sys.executable, "-m", "bot.cli", "run"]
        )
        log = home / "shuoshi.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT)
        return Instance(name, port, proc, log)

    def kill(self, instance: Instance) -> None:
        instance.proc.send_signal(signal.SIGKILL)
        instance.proc.wait(10)

    def stop(self) -> None:
        for inst in self.instances:
            if inst.alive:
                inst.proc.send_signal(signal.SIGTERM)
        for inst in self.instances:
            try:
                inst.proc.wait(15)
            except subprocess.TimeoutExpired:
                inst.proc.kill()
                inst.proc.wait(5)
        with contextlib.suppress(Exception):
            self.api.close()

    def logs(self) -> str:
        return "\n".join(
            f"== {i.name}\n{i.log.read_text(errors='replace')}" for i in self.instances
        )

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each live instance has used so far."""
        tick = os.sysconf("SC_CLK_TCK")
        out = {}
        for inst in self.instances:
            if inst.alive:
                fields = Path(f"/proc/{inst.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                out[inst.name] = (int(fields[11]) + int(fields[12])) / tick
        return out

    def rss(self) -> dict[str, float]:
        """Resident memory (MB) of each live instance."""
        out = {}
        for inst in self.instances:
            if inst.alive:
                status = Path(f"/proc/{inst.proc.pid}/status").read_text()
                kb = next(
                    int(line.split()[1])
                    for line in status.splitlines()
                    if line.startswith("VmRSS:")
                )
                out[inst.name] = kb / 1024
        return out

    # ---------------------------------------------------------------- Telegram's side

    async def deliver(self, client: httpx.AsyncClient, post: Post, *, prefer: int = 0) -> None:
        """POST the update like Telegram behind a load balancer: to one instance, and on a
        refused connection, a timeout or a 5xx to the next one, until one answers 200."""
        body = json.dumps(post.update(), ensure_ascii=False).encode()
        deadline = time.monotonic() + 300
        pause = 0.05
        for k in itertools.count(prefer):
            live = [i for i in self.instances if i.alive] or self.instances
            inst = live[k % len(live)]
            post.tries += 1
            started = time.monotonic()
            try:
                response = await client.post(
                    f"{inst.url}/telegram/webhook",
                    content=body,
                    headers={HEADER: SECRET, "Content-Type": "application/json"},
                )
                self.responses[response.status_code] += 1
                if response.status_code == 200:
                    self.answer_times.append(time.monotonic() - started)
                    if post.posted_at is None:
                        post.posted_at = started
                    return
                if response.status_code < 500:
                    raise AssertionError(f"{inst.name} answered {response.status_code}")
            except httpx.TransportError:
                self.responses[0] += 1
            self.failovers += 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"post {post.n} could not be delivered")
            await asyncio.sleep(pause)  # Telegram, too, waits longer after each failure
            pause = min(pause * 2, 5.0)

    async def send_all(
        self,
        posts: list[Post],
        *,
        rate: float | None = None,
        concurrency: int = 16,
        redeliver: float = 0.0,
        twin: float = 0.0,
        kill: tuple[int, Instance] | None = None,
        seed: int = 11,
    ) -> None:
        """Deliver every post: at `rate` per second (None: as fast as `concurrency` allows);
        `redeliver` of them again after their 200 (Telegram did not see the answer), `twin` of
        them to two instances at the same moment. `kill=(k, inst)`: SIGKILL `inst` once k
        posts have been started."""
        rng = random.Random(seed)
        slots = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(
            max_connections=concurrency * 2, max_keepalive_connections=concurrency
        )
        timeout = httpx.Timeout(30.0, connect=2.0)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:

            async def one(post: Post, k: int) -> None:
                async with slots:
                    if rng.random() < twin:
                        await asyncio.gather(
                            self.deliver(client, post, prefer=k),
                            self.deliver(client, post, prefer=k + 1),
                        )
                    else:
                        await self.deliver(client, post, prefer=k)
                    if rng.random() < redeliver:
                        await self.deliver(client, post, prefer=k + 1)

            tasks = []
            began = time.monotonic()
            for k, post in enumerate(posts):
                if kill is not None and k == kill[0]:
                    await asyncio.to_thread(self.kill, kill[1])
                if rate:
                    await asyncio.sleep(max(0.0, began + k / rate - time.monotonic()))
                tasks.append(asyncio.create_task(one(post, k)))
            await asyncio.gather(*tasks)

    def wait_acks(self, posts: list[Post], timeout: float = 60) -> Acks:
        """Until every matter post has its acknowledgment at the fake (or the time is up)."""
        want = {(p.chat, p.message_id) for p in posts if p.matter}
        deadline = time.monotonic() + timeout
        while True:
            acks = self.ack_counts()
            if want <= set(acks.replies) or time.monotonic() > deadline:
                return acks
            time.sleep(0.2)


@contextlib.contextmanager
def running(root: Path, database_url: str, **kw: Any) -> Iterator[Cluster]:
    cluster = Cluster(root, database_url, **kw)
    try:
        yield cluster
    finally:
        cluster.stop()
