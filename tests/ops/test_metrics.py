"""/metrics: counted at commit by this process, and read from the database when scraped."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from bot.app import App
from handlers.clock import FakeClock
from ops import metrics
from tests.conftest import Chat
from tests.ops.util import post


def values(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def get(body: bytes, name: str, **labels: str) -> float:
    return values(body).get((name, tuple(sorted(labels.items()))), 0.0)


def test_counts_and_backlog(app: App) -> None:
    metrics.install()
    before = metrics.exposition(app.engine, app.clock)
    Chat(app).say("张姐: 我的")  # a command, its answer delivered
    for i in range(3):
        post(app, i)
    post(app, 0)  # a redelivery: recorded once, counted once
    assert isinstance(app.clock, FakeClock)
    app.clock.advance(timedelta(minutes=2))
    after = metrics.exposition(app.engine, app.clock)

    def delta(name: str, **labels: str) -> float:
        return get(after, name, **labels) - get(before, name, **labels)

    assert delta("shuoshi_messages_total", platform="local", status="matter") == 3
    assert delta("shuoshi_matters_created_total", platform="local") == 3
    assert delta("shuoshi_commands_total", platform="local") == 1
    assert delta("shuoshi_messages_total", platform="local", status="command") == 1
    assert get(after, "shuoshi_database_up") == 1
    assert get(after, "shuoshi_inbox_unhandled") == 0
    # The posts' acknowledgments wait (no sender ran for them): pending, two minutes late.
    assert get(after, "shuoshi_outbox_messages", platform="local", status="pending") >= 3
    assert get(after, "shuoshi_outbox_lag_seconds") >= 120
    assert get(after, "process_resident_memory_bytes") > 0
    text = after.decode()
    assert "村" not in text and "张" not in text  # no personal data in labels


def test_mounted_route(app: App) -> None:
    api = FastAPI()
    metrics.mount(api, app)

    async def scrape() -> httpx.Response:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
            return await client.get("/metrics")

    response = asyncio.run(scrape())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert b"shuoshi_outbox_lag_seconds" in response.content
    assert b"shuoshi_database_up 1.0" in response.content
