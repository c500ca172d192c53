"""WeChat throughput through the mock gateway (deploy/wechaty-gateway, wechaty-puppet-mock).

In one run, against one gateway process:
- floor: a bare gRPC client that only echoes: MESSAGE event → MessagePayload → skip its own
  → MessageSendText back into the room with an @-mention (up to 16 messages in flight, as the bot);
- bot: the full WeChat door (bot/wechat.py) on SQLite (or --database-url): each post is fetched,
  recorded in the inbox, classified and registered as an issue, acknowledged in the room with an
  @-mention and told privately to its owner (two answers per post), through the outbox sender
  the root builds for the door.
  Answers already waiting for one chat when its turn comes go out as one message
  (WECHAT_MERGE_MAX, default 10); `--merge-max 1` sends every answer on its own.

A run posts N messages, spread over the 说事群 of ten villages, through the control endpoint as
fast as it answers, and times from the first post until every answer was sent. The sender's
rate limits (WeChat: 1 message/s per chat, 20/min per room) are off here: a policy, not a cost.

Goal (issue 5): bot ≥ 0.5 × floor.
Run: .venv/bin/python bench/wechat.py [--posts 400] [--rounds 2] [--merge-max 10]
[--database-url postgresql+psycopg://…] [--db-in-thread]  (needs node and `npm ci` in
deploy/wechaty-gateway). One round of each, not counted, warms up first. `--db-in-thread` runs
the door's database work in a worker thread (ports.doors.DatabaseWork) to measure that rule.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import build, freeze_startup_objects, running, wechat_door
from bot.wechat_client import MESSAGE, ClientOptions
from bot.wechaty_pb.wechaty import puppet_pb2_grpc
from bot.wechaty_pb.wechaty.puppet import base_pb2, event_pb2, message_pb2
from handlers.clock import FakeClock
from ports.settings import DEMO_GRID, REPO_ROOT, Settings
from scheduler.sender import Sender

GATEWAY = REPO_ROOT / "deploy" / "wechaty-gateway"
TOKEN = "insecure_bench"
METADATA = (("authorization", f"Wechaty {TOKEN}"),)
BOT_ID = "wxid_shuoshi_bot"
# Ten more villages in the demo grid, each with its 说事群 and one grid member, who owns (and
# hears privately of) what is posted there.
ROOMS = [f"bench{i}@chatroom" for i in range(10)]
OWNERS = [f"wxid_grid{i}" for i in range(10)]
VILLAGERS = [f"wxid_villager{i}" for i in range(40)]
MATTERS = [
    "村口路灯坏了好几天了，晚上黑乎乎的",
    "那段水渠塌了，过两天要放水灌溉了",
    "村东头的垃圾好几天没人清运了，味道很大",
    "小学门口的减速带坏了，车开得很快",
    "后山的水管爆了，好几户停水",
]


def chinese_number(n: int) -> str:
    """1 … 99 as people write it: 三, 十二, 四十五."""
    digits = "零一二三四五六七八九"
    tens, ones = divmod(n, 10)
    return (
        (digits[tens] if tens > 1 else "") + ("十" if tens else "") + (digits[ones] if ones else "")
    )


def matter(i: int) -> str:
    """The i-th post: each a matter of its own (another 组 for each repeat of a text, so the
    duplicate finder links none of them)."""
    return f"说事 {chinese_number(i // len(MATTERS) + 1)}组{MATTERS[i % len(MATTERS)]}"


MAX_POSTS = 99 * len(MATTERS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gateway:
    def __init__(self, log: Path) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "WECHATY_PUPPET": "wechaty-puppet-mock",
            "WECHATY_TOKEN": TOKEN,
            "WECHATY_PUPPET_SERVER_PORT": str(self.port),
            "GATEWAY_CONTROL_PORT": "0",
            "WECHATY_PUPPET_SERVICE_NO_TLS": "true",
            "WECHATY_LOG": "error",
        }
        self.out = log.open("w+b")
        self.posting_cpu = 0.0  # CPU seconds of the last post_all thread
        self.proc = subprocess.Popen(
            ["node", "gateway.js"], cwd=GATEWAY, env=env, stdout=self.out, stderr=self.out
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("wechaty-gateway ready "):
                    ready = json.loads(line.split(" ", 2)[2])
                    self.control_port = int(ready["control"].rsplit(":", 1)[1])
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit(f"the gateway did not start:\n{log.read_text()[-2000:]}")

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.control_port)
        conn.request(method, path, body=data, headers={"content-type": "application/json"})
        resp = conn.getresponse()
        payload = json.loads(resp.read())
        conn.close()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: {payload}")
        return payload

    def setup(self) -> None:
        """A fresh mock: the bot, villagers, the owner, the rooms."""
        self.control("POST", "/reset", {})
        people = [(BOT_ID, "说事")] + [(o, f"网格员{i}") for i, o in enumerate(OWNERS)]
        people += [(v, f"村民{i}") for i, v in enumerate(VILLAGERS)]
        for cid, name in people:
            self.control("POST", "/contacts", {"id": cid, "name": name})
        members = [cid for cid, _ in people]
        for i, room in enumerate(ROOMS):
            body = {"id": room, "topic": f"演示{i}村说事群", "memberIds": members}
            self.control("POST", "/rooms", body)

    def post_all(self, n: int) -> threading.Thread:
        """Post n room messages from a thread, as fast as the control endpoint takes them."""

        def run() -> None:
            started = time.thread_time()
            conn = http.client.HTTPConnection("127.0.0.1", self.control_port)
            for i in range(n):
                body = {
                    "from": VILLAGERS[i % len(VILLAGERS)],
                    "roomId": ROOMS[i % len(ROOMS)],
                    "text": matter(i),
                }
                conn.request("POST", "/messages", body=json.dumps(body).encode())
                conn.getresponse().read()
            conn.close()
            self.posting_cpu = time.thread_time() - started

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.out.close()


def wechat_grid(tmp: Path) -> Path:
    """The demo grid plus the bench villages."""
    text = DEMO_GRID.read_text(encoding="utf-8")
    for i, (room, owner) in enumerate(zip(ROOMS, OWNERS, strict=True)):
        text += (
            f'\n[[villages]]\nname = "演示{i}村"\n'
            f'[[villages.people]]\nname = "网格员{i}"\nrole = "网格员"\n'
            f'kinds = ["村里事", "邻里事", "户里事"]\nids = ["wechat:{owner}"]\n'
            f'[[villages.groups]]\nname = "演示{i}村说事群"\nchats = ["wechat:{room}"]\n'
        )
    path = tmp / "grid.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def until(check: Any, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        await asyncio.sleep(0.005)


@dataclass
class Run:
    rate: float  # messages/s, wall clock
    py_ms: float  # CPU ms per message, this Python process (all threads)
    node_ms: float  # CPU ms per message, the gateway
    core_ms: float = 0.0  # CPU ms per message in handlers.intake.receive (the core's decision)
    sends: int = 0  # WeChat messages the bot sent for its 2 × N answers
    posting_ms: float = 0.0  # of py_ms: the thread that posts through the control endpoint


class Meter:
    """Wall time and CPU time of this process and of the gateway over one run."""

    def __init__(self, gw: Gateway) -> None:
        self.node = psutil.Process(gw.proc.pid)

    def __enter__(self) -> Meter:
        self.t0, self.py0, self.node0 = time.perf_counter(), time.process_time(), self._node()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.py = time.process_time() - self.py0
        self.node_cpu = self._node() - self.node0

    def _node(self) -> float:
        times = self.node.cpu_times()
        return float(times.user + times.system)

    def run(self, n: int, gw: Gateway) -> Run:
        posting = gw.posting_cpu * 1000 / n
        return Run(n / self.wall, self.py * 1000 / n, self.node_cpu * 1000 / n, posting_ms=posting)


async def floor(gw: Gateway, n: int) -> Run:
    """The bare echo client."""
    gw.setup()
    replies = 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel:
        stub = puppet_pb2_grpc.PuppetStub(channel)
        stream = stub.Event(event_pb2.EventRequest(), metadata=METADATA)
        await stream.read()  # the "connected" heartbeat
        await stub.Start(base_pb2.StartRequest(), metadata=METADATA)
        gw.control("POST", "/login", {"id": BOT_ID})
        slots = asyncio.Semaphore(16)
        tasks: set[asyncio.Task[None]] = set()

        async def echo(message_id: str) -> None:
            nonlocal replies
            async with slots:
                msg = await stub.MessagePayload(
                    message_pb2.MessagePayloadRequest(id=message_id), metadata=METADATA
                )
                if msg.talker_id == BOT_ID:
                    return
                await stub.MessageSendText(
                    message_pb2.MessageSendTextRequest(
                        conversation_id=msg.room_id or msg.talker_id,
                        text=f"@{msg.talker_id}\u2005收到",
                        mentional_ids=[msg.talker_id],
                    ),
                    metadata=METADATA,
                )
                replies += 1

        async def pump() -> None:
            while (event := await stream.read()) is not grpc.aio.EOF:
                if event.type == MESSAGE:
                    task = asyncio.create_task(echo(json.loads(event.payload)["messageId"]))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

        pumping = asyncio.create_task(pump())
        with Meter(gw) as meter:
            poster = gw.post_all(n)
            await until(lambda: replies >= n)
        poster.join()
        pumping.cancel()
        stream.cancel()
        for task in list(tasks):  # fetches of its own last echoes, not needed any more
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return meter.run(n, gw)


async def full_bot(
    gw: Gateway,
    n: int,
    tmp: Path,
    merge_max: int = 10,
    database_url: str | None = None,
    db_in_thread: bool = False,
) -> tuple[Run, int]:
    """The WeChat door with the whole core on SQLite (or `database_url`), and the issues it
    registered."""
    gw.setup()
    url = database_url or f"sqlite:///{tmp / f'bench-{time.monotonic_ns()}.db'}"
    if database_url:
        reset(database_url)
    settings = Settings(
        grid_file=wechat_grid(tmp),
        database_url=url,
        data_dir=tmp / "data",
        wechat_chat_max_per_second=0,  # the limits are a policy, not a cost
        wechat_room_max_per_minute=0,
        wechat_merge_max=merge_max,
    )
    app = build(settings, clock=FakeClock(datetime(2026, 11, 23, 9, 0)), database_url=url)
    options = ClientOptions(endpoint=f"127.0.0.1:{gw.port}", token=TOKEN, tls=False)
    bot = wechat_door(app, options)
    bot.db.in_thread = db_in_thread
    freeze_startup_objects()  # as `shuoshi run` does once it is built
    core = 0.0
    deliver_many = bot.deliver_many

    def timed_deliver_many(inbounds: Any) -> Any:
        nonlocal core
        t0 = time.thread_time()  # the thread that decides: the loop's, or the worker's
        try:
            return deliver_many(inbounds)
        finally:
            core += time.thread_time() - t0

    bot.deliver_many = timed_deliver_many  # type: ignore[method-assign]
    async with running(app, bot):
        sender = bot.sender
        assert isinstance(sender, Sender)  # the one the root built for the door
        await until(bot.client.connected.is_set, 30)
        gw.control("POST", "/login", {"id": BOT_ID})
        await until(lambda: bot.status.logged_in, 30)
        with Meter(gw) as meter:
            poster = gw.post_all(n)
            await until(lambda: bot.handled >= n and sender.stats.sent >= 2 * n)
        poster.join()
    from sqlmodel import Session, func, select

    from storage.models import Issue

    with Session(app.engine) as session:
        issues = session.exec(select(func.count()).select_from(Issue)).one()
    app.engine.dispose()
    run = meter.run(n, gw)
    run.core_ms = core * 1000 / n
    run.sends = sender.stats.sent - sender.stats.merged
    return run, issues


def reset(url: str) -> None:
    """An empty, migrated PostgreSQL database for one run."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    from storage.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    tables = [t.name for t in SQLModel.metadata.sorted_tables]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--merge-max", type=int, default=Settings.model_fields["wechat_merge_max"].default
    )
    parser.add_argument("--database-url", help="PostgreSQL to run the full bot on")
    parser.add_argument("--db-in-thread", action="store_true", help="the door's database work")
    args = parser.parse_args()
    bot_args = (args.merge_max, args.database_url, args.db_in_thread)
    if not 0 < args.posts <= MAX_POSTS:
        parser.error(f"--posts must be 1 … {MAX_POSTS}")
    load = f"{os.getloadavg()[0]:.1f}"
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        gw = Gateway(tmp / "gateway.log")
        try:
            # Warm up node's JIT and both paths with a whole round each (with a shorter one the
            # floor's first counted run was always its slowest).
            await floor(gw, args.posts)
            await full_bot(gw, args.posts, tmp, *bot_args)
            floors: list[Run] = []
            bots: list[Run] = []
            for _ in range(args.rounds):  # interleaved, so load changes hit both alike
                floors.append(await floor(gw, args.posts))
                run, issues = await full_bot(gw, args.posts, tmp, *bot_args)
                bots.append(run)
                assert issues == args.posts, f"{issues} issues from {args.posts} posts"
        finally:
            gw.stop()
    print(
        f"posts per run: {args.posts}, rounds: {args.rounds}, CPUs: {os.cpu_count()}, "
        f"load average before/after: {load} / {os.getloadavg()[0]:.1f}, "
        f"WECHAT_MERGE_MAX: {args.merge_max}, database: "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}, database work "
        f"{'in a thread' if args.db_in_thread else 'on the event loop'}"
    )
    for name, runs in (("floor (bare echo client)", floors), ("full bot", bots)):
        rate = statistics.median(r.rate for r in runs)
        py = statistics.median(r.py_ms for r in runs)
        node = statistics.median(r.node_ms for r in runs)
        each = ", ".join(f"{r.rate:.0f}" for r in runs)
        core = statistics.median(r.core_ms for r in runs)
        posting = statistics.median(r.posting_ms for r in runs)
        print(
            f"{name}: {rate:,.0f} messages/s (runs: {each}); per message: CPU Python {py:.2f} ms"
            f" (of which the posting thread {posting:.2f} ms"
            + (f", intake.receive {core:.2f} ms" if core else "")
            + f"), gateway {node:.2f} ms"
        )
    sends = statistics.median(b.sends for b in bots)
    print(f"the bot's WeChat messages for {2 * args.posts} answers: {sends:.0f} (median)")
    ratio = statistics.median(b.rate for b in bots) / statistics.median(f.rate for f in floors)
    print(f"bot / floor: {ratio:.2f}  (goal ≥ 0.5)")


if __name__ == "__main__":
    asyncio.run(main())
