"""/readyz turns red for what stops the bot (issue 14, item 4): a full disk, messages waiting
too long to be handled, a door that cannot record what comes in; the status page lists the
messages whose handling failed (item 1)."""

from __future__ import annotations

import shutil
from collections import namedtuple
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

import admin.readiness
from bot.app import App
from handlers.clock import FakeClock
from tests.admin.conftest import logged_in
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
