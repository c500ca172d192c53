"""/readyz turns red for what stops the bot (issue 14, item 4): a full disk, messages waiting
too long to be handled, a door that cannot record what comes in; the status page lists the
messages whose handling failed (item 1)."""

from __future__ import annotations

import re
import shutil
from collections import namedtuple
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

import admin.readiness
from admin.app import create_app
from bot.app import App
from handlers.clock import FakeClock
from storage.models import AdminLogin, Outbox, Person
from tests.admin.conftest import _hash, logged_in
from tests.conftest import Chat
from tests.ops.test_inbox import failing_post, retry_until_set_aside

pytestmark = pytest.mark.asyncio
Usage = namedtuple("Usage", "total used free")


async def test_ready_with_its_figures(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert body["disk_free_mb"] > 0 and body["inbox_waiting"] == 0 and body["inbox_failed"] == 0
    assert "outbox_oldest_seconds" in body


async def test_a_full_disk_is_not_ready(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin.readiness.shutil, "disk_usage", lambda _: Usage(10, 10, 1024))
    response = await client.get("/readyz")
    assert response.status_code == 503 and "disk full" in response.json()["problems"]
    assert shutil.disk_usage is not None


async def test_a_door_that_cannot_record_is_not_ready(app: App, client: httpx.AsyncClient) -> None:
    app.status["telegram"] = {"state": "error", "error": "database: disk I/O error"}
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert any("telegram" in p for p in response.json()["problems"])


async def test_a_message_waiting_too_long_is_not_ready_and_the_status_page_lists_it(
    app: App, web: FastAPI, client: httpx.AsyncClient
) -> None:
    good = app.deps.classifier
    failing_post(app, "stuck-1")
    assert (await client.get("/readyz")).status_code == 200  # a retry is on its way
    assert isinstance(app.clock, FakeClock)
    app.clock.advance(timedelta(minutes=6))
    response = await client.get("/readyz")
    assert response.status_code == 503 and response.json()["inbox_waiting"] == 1
    retry_until_set_aside(app)
    app.deps.classifier = good
    response = await client.get("/readyz")
    assert response.status_code == 200 and response.json()["inbox_failed"] == 1  # set aside
    secretary = await logged_in(web, "李书记")
    try:
        page = (await secretary.get("/status")).text
    finally:
        await secretary.aclose()
    assert "已搁置 1 条" in page and "OverflowError" in page and "shuoshi inbox --retry" in page
    assert "水塘" not in page  # who and when, never what was written


def _text(html: str) -> str:
    """What a person reads on the page, outside the folded technical details."""
    main = html[html.index("<main") :]
    main = re.sub(r"<details.*?</details>", "", main, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


async def test_the_status_page_tells_a_secretary_about_each_group_in_chinese(
    app: App, web: FastAPI, matters: Chat
) -> None:
    """Issue 17: connected or not, when the bot last heard from the group, what waits, what
    failed; the operator's words (mode, migration heads, addresses) folded away."""
    assert isinstance(app.clock, FakeClock)
    app.clock.advance(timedelta(hours=3))
    with Session(app.engine) as session:
        now = app.clock.now()
        for status, error in (("pending", None), ("pending", None), ("failed", "群已解散")):
            session.add(
                Outbox(
                    platform="local",
                    chat="新联村说事群",
                    recipient="新联村说事群",
                    text="…",
                    created_at=now,
                    not_before=now,
                    status=status,
                    last_error=error,
                )
            )
        session.commit()
    secretary = await logged_in(web, "李书记")
    try:
        html = (await secretary.get("/status")).text
    finally:
        await secretary.aclose()
    said = _text(html)
    group = said[said.index("新联村说事群") :]
    assert "机器人在群里" in group and "已连上" in group
    assert "上次收到群里的消息：11-23 09:00（3 小时前）" in group
    assert "有 2 条回复等着发出" in group and "1 条没发出去" in group and "群已解散" in group
    assert "石桥村说事群" not in said  # another village's group: not this 书记's
    details = re.search(r"<details[^>]*>.*?</details>", html, flags=re.S)
    assert details and "迁移版本" in details.group(0) and "<summary>" in details.group(0)
    for technical in ("迁移版本", "polling", "configured", "sqlite"):
        assert technical not in said, technical


async def test_a_broken_connection_is_said_in_chinese_at_the_top(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    app = make_app(admin_secret="x", data_dir=tmp_path, telegram_bot_token="123:abc")
    app.status["telegram"] = {"state": "error", "error": "Telegram rejected the bot token"}
    with Session(app.engine) as session:
        town = session.exec(select(Person).where(Person.name == "陈镇长")).one()
        session.add(
            AdminLogin(person_id=town.id or 0, password_hash=_hash(), set_at=app.clock.now())
        )
        session.commit()
    web = create_app(app)
    leader = await logged_in(web, "陈镇长")
    try:
        said = _text((await leader.get("/status")).text)
    finally:
        await leader.aclose()
    assert "机器人现在有 1 个问题" in said and "Telegram连接出错" in said
    assert "新联村说事群" in said and "石桥村说事群" in said  # the town: every group
    group = said[said.index("新联村说事群") :]
    assert "机器人没连上这个群" in group and "连接出错：Telegram rejected the bot token" in group
