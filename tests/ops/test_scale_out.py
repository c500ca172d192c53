"""Two `shuoshi run` instances on one PostgreSQL database take Telegram posts through the
webhook route in parallel (redeliveries and simultaneous twins mixed in): every matter is
registered exactly once and acknowledged exactly once, nothing deadlocks. Then one instance is
SIGKILLed in the middle of the traffic: the other one finishes the work. A WeChat gateway (the
mock puppet) is served by the same two instances: exactly one reads it (the lease in the
database); the killed instance is the one holding it, and the survivor takes the lease over and
reads on.

"Exactly once" for a message sent has one exception the Bot API forces on any client: a send
whose answer never came back (a timeout: Telegram may have taken it) is tried again, since
there is no idempotency key. On a machine starved of CPU the fake Bot API itself answers late,
so the test counts each extra copy against a failed try recorded on its outbox row: a copy
without one is a real duplicate and fails the test.

The long version is bench/soak.py (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.db import make_engine
from storage.lease import LeaseState, state, wechat_lease
from storage.models import Inbound, Issue, Outbox
from tests.ops.cluster import Acks, Cluster, Instance, Post, make_posts, running
from tests.ops.test_metrics import get
from tests.ops.util import count_where
from tests.wechat.conftest import BOT_ID, BOT_NAME, ROOM, TOKEN, VILLAGER, Gateway, require_gateway

# Short outbox leases so the survivor takes over the killed instance's claimed rows within
# seconds (not so short that a sender starved of CPU on a busy machine loses a live claim);
# the platform rate limits off (the fake has none; this checks correctness, not pacing).
ENV = {
    "OUTBOX_LEASE_SECONDS": "10",
    "OUTBOX_SEND_TIMEOUT_SECONDS": "4",
    "OUTBOX_POLL_SECONDS": "0.5",
    "TELEGRAM_MAX_PER_SECOND": "0",
    "TELEGRAM_CHAT_MAX_PER_SECOND": "0",
    "TELEGRAM_GROUP_MAX_PER_MINUTE": "0",
}
PHASE = 60
T = TypeVar("T")


def check_database(url: str, posts: list[Post]) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = session.exec(
                select(Inbound.message_id, Inbound.status, Inbound.issue_id).where(
                    col(Inbound.platform) == "telegram"
                )
            ).all()
            numbers = session.exec(select(Issue.number)).all()
            outbox = dict(
                session.execute(
                    select(col(Outbox.status), func.count())
                    .where(col(Outbox.platform) == "telegram")
                    .group_by(col(Outbox.status))
                ).all()
            )
    finally:
        engine.dispose()
    ids = [int(r[0]) for r in rows]
    assert len(ids) == len(set(ids)) == len(posts), "every post recorded exactly once"
    assert {r[1] for r in rows} == {"matter"}, "every post decided, each a matter"
    issue_ids = [r[2] for r in rows]
    assert len(set(issue_ids)) == len(posts), "one matter per post"
    assert sorted(numbers) == list(range(1, len(numbers) + 1)), "numbers 1…N, none twice"
    return {str(k): int(v) for k, v in outbox.items()}


def tries_by_reply(url: str) -> tuple[dict[tuple[int, int], int], int]:
    """Sending tries of each acknowledgment row ((chat, replied id) → tries), and the failed
    tries of all rows (each may have put one extra copy on the wire)."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = session.exec(select(Outbox.chat, Outbox.reply_to, Outbox.tries)).all()
    finally:
        engine.dispose()
    acks = {(int(c), int(r)): t for c, r, t in rows if r and r.isdigit()}
    return acks, sum(max(0, t - 1) for _c, _r, t in rows)


LOST_CLAIM = "sent after its lease was taken over"


def extra_copies(acks: Acks, url: str, posts: list[Post], cluster: Cluster) -> int:
    """Copies beyond one per acknowledgment. Each must be accounted for: by a failed try of its
    row (a timeout: Telegram may have taken it), or by a sender that said it lost its claim (on
    a machine starved of CPU a send outlived the outbox lease and another instance sent the row
    too; scheduler/sender.py logs each). A copy without either fails the test."""
    tries, _ = tries_by_reply(url)
    lost = cluster.logs().count(LOST_CLAIM)
    extra = unexplained = 0
    for p in posts:
        n = acks.replies.get((p.chat, p.message_id), 0)
        assert n >= 1, f"post {p.n} not acknowledged"
        extra += n - 1
        unexplained += max(0, n - tries[(p.chat, p.message_id)])
    assert unexplained <= lost, f"{unexplained} copies without a failed try or a lost claim"
    return extra


def settle(
    cluster: Cluster, url: str, posts: list[Post], timeout: float = 60
) -> tuple[Acks, dict[str, int]]:
    """Wait until every matter is acknowledged and the outbox holds nothing but sent rows
    (or the time is up); then what the fake received and the outbox by status."""
    deadline = time.monotonic() + timeout
    while True:
        cluster.wait_acks(posts, timeout=max(0.0, deadline - time.monotonic()))
        outbox = check_database(url, posts)
        if set(outbox) == {"sent"} or time.monotonic() > deadline:
            return cluster.ack_counts(), outbox
        time.sleep(0.3)


def deadlocks(cluster: Cluster) -> list[str]:
    return [line for line in cluster.logs().splitlines() if "deadlock" in line.lower()]


WECHAT_TTL = 3.0


def lease_now(url: str, name: str) -> LeaseState | None:
    engine = make_engine(url)
    try:
        return state(engine, name)
    finally:
        engine.dispose()


def holder_of(cluster: Cluster, lease: LeaseState) -> Instance:
    pid = int(lease.holder.split(":")[1])
    return next(i for i in cluster.instances if i.proc.pid == pid)


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out: {what}")


def start_gateway(tmp_path: Path) -> Gateway:
    require_gateway()
    gw = Gateway(tmp_path)
    gw.start()
    for cid, name in ((BOT_ID, BOT_NAME), (VILLAGER, "张大爷")):
        gw.control("POST", "/contacts", {"id": cid, "name": name})
    gw.control("POST", "/rooms", {"id": ROOM, "topic": "说事群", "memberIds": [VILLAGER, BOT_ID]})
    gw.control("POST", "/login", {"id": BOT_ID, "name": BOT_NAME})
    return gw


def reading(instance: Instance) -> None:
    """Wait until the instance reads the gateway: its event stream is up and the puppet told it
    LOGIN. The gateway drops events while no reader is connected (Wechaty's puppet service does
    not queue them), so a post made in the moment between taking the lease and connecting is
    lost, as it would be in production."""
    wait_for(
        lambda: "WeChat: logged in as" in instance.log.read_text(errors="replace"),
        30,
        f"{instance.name} to read the gateway",
    )


def wechat_post(gw: Gateway, url: str, text: str, n: int) -> None:
    """A villager posts in the WeChat room; wait until it is the n-th WeChat message recorded."""
    gw.control("POST", "/messages", {"from": VILLAGER, "roomId": ROOM, "text": text})
    wait_for(lambda: count_where(url, Inbound, platform="wechat") >= n, 30, f"WeChat message {n}")


@pytest.mark.timeout(300)  # ~40 s on a quiet machine; several times that on a crowded one
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_instances_then_one_killed(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    gw = start_gateway(tmp_path)
    request.addfinalizer(gw.stop)
    env = ENV | {
        "WECHATY_PUPPET_SERVICE_ENDPOINT": gw.endpoint,
        "WECHATY_PUPPET_SERVICE_TOKEN": TOKEN,
        "WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_CLIENT": "true",
        "WECHAT_LEASE_SECONDS": str(WECHAT_TTL),
        "WECHAT_CHAT_MAX_PER_SECOND": "0",
        "WECHAT_ROOM_MAX_PER_MINUTE": "0",
    }
    lease_name = wechat_lease(gw.endpoint)
    chats = (f"wechat:{ROOM}",)
    with running(
        tmp_path, database_url, groups=40, villages=10, env=env, extra_chats=chats
    ) as cluster:
        cluster.prepare()
        cluster.start(2)
        # Exactly one instance reads the gateway: the one in the lease row.
        lease = wait_for(lambda: lease_now(database_url, lease_name), 30, "a WeChat reader")
        first = holder_of(cluster, lease)  # killed in phase 2
        second = next(i for i in cluster.instances if i is not first)
        reading(first)
        wechat_post(gw, database_url, "说事 村口路灯坏了好几天了", 1)

        # Phase 1: both instances, as fast as 16 connections go.
        posts = make_posts(PHASE, cluster.groups)
        began = time.monotonic()
        asyncio.run(cluster.send_all(posts, concurrency=16, redeliver=0.2, twin=0.1))
        acks, outbox = settle(cluster, database_url, posts)
        took = time.monotonic() - began
        assert set(outbox) == {"sent"}, outbox
        extra_copies(acks, database_url, posts, cluster)  # each acknowledgment accounted for
        _, failed_tries = tries_by_reply(database_url)
        lost = cluster.logs().count(LOST_CLAIM)
        assert acks.total - outbox["sent"] <= failed_tries + lost, "a copy nothing accounts for"
        assert acks.private >= len(posts), "every owner told"
        assert cluster.responses[200] >= len(posts) and not deadlocks(cluster)
        # /metrics: each instance counts what it decided; together, every post once.
        decided = 0.0
        for inst in (first, second):
            body = httpx.get(f"{inst.url}/metrics", timeout=10).content
            decided += get(body, "shuoshi_messages_total", platform="telegram", status="matter")
            assert get(body, "shuoshi_database_up") == 1
        assert decided == len(posts)
        assert took < 60

        # Phase 2: SIGKILL one instance after a third of the posts; the other finishes.
        more = make_posts(PHASE, cluster.groups, start=PHASE)
        asyncio.run(cluster.send_all(more, concurrency=16, redeliver=0.1, kill=(PHASE // 3, first)))
        assert not first.alive and second.alive
        everything = posts + more
        # The dead instance's claimed rows go out once their leases (10 s here) have passed.
        acks, outbox = settle(cluster, database_url, everything)
        missing = [p.n for p in more if not acks.replies.get((p.chat, p.message_id))]
        assert not missing, f"not acknowledged: {missing[:10]}"
        assert set(outbox) == {"sent"}, outbox
        # A row on the wire when the process died is sent again by the survivor (the
        # at-least-once window of scheduler/sender.py: at most outbox_concurrency = 8 rows);
        # beyond those, only rows with a failed try may have gone out twice.
        _, failed_tries = tries_by_reply(database_url)
        lost = cluster.logs().count(LOST_CLAIM)
        assert acks.total - outbox["sent"] <= failed_tries + lost + 8
        assert not deadlocks(cluster)

        # The WeChat lease moved to the survivor (a new epoch), which now reads the gateway.
        def taken_over() -> LeaseState | None:
            now = lease_now(database_url, lease_name)
            return now if now is not None and now.epoch > lease.epoch else None

        moved = wait_for(taken_over, WECHAT_TTL * 4 + 10, "the WeChat lease to move")
        assert holder_of(cluster, moved) is second
        # The gateway drops events while no reader is connected (Wechaty's puppet service does
        # not queue): post once the survivor's event stream is up and the puppet told it LOGIN.
        reading(second)
        wechat_post(gw, database_url, "说事 三组的水渠塌了一段", 2)
