"""The JSON API and the Open311 GeoReport v2 read endpoints."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import Session, select

from admin.auth import new_token
from bot.app import App
from storage.models import Person
from tests.admin.conftest import login, say, sqlite_only
from tests.conftest import Chat

pytestmark = pytest.mark.asyncio


def bearer(app: App, name: str) -> dict[str, str]:
    with Session(app.engine) as session:
        person = session.exec(select(Person).where(Person.name == name)).one()
        token = new_token(session, person, app.clock.now())
        session.commit()
    return {"Authorization": f"Bearer {token}"}


async def test_issues_filters_and_pages(client: httpx.AsyncClient, matters: Chat, app: App) -> None:
    auth = bearer(app, "陈镇长")
    data = (await client.get("/api/issues", headers=auth)).json()
    assert data["total"] == 3 and not data["total_capped"] and data["counts"] == {"open": 3}
    first = data["items"][0]
    assert (
        first["number"] == 3 and first["village"] == "石桥村" and first["status_name"] == "待认领"
    )
    page = (await client.get("/api/issues?per_page=2&page=2&sort=old", headers=auth)).json()
    assert [i["number"] for i in page["items"]] == [3] and page["page"] == 2
    found = (await client.get("/api/issues?q=水渠", headers=auth)).json()
    assert [i["number"] for i in found["items"]] == [3]
    assert (await client.get("/api/issues?per_page=1000", headers=auth)).status_code == 422
    masked = (await client.get("/api/issues?kind=邻里事", headers=auth)).json()["items"][0]
    assert "13812345678" not in masked["summary"]


async def test_one_issue_with_its_timeline(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    await say(matters, "张姐: 认领 1\n张姐: 进展 1 已联系电工\n老王: 村口路灯坏了好几天了")
    auth = bearer(app, "李书记")
    data = (await client.get("/api/issues/1", headers=auth)).json()
    kinds = [e["kind"] for e in data["timeline"]]
    assert kinds[:4] == ["created", "assigned", "claimed", "note"]
    assert data["timeline"][3]["actor"] == "张姐" and data["timeline"][3]["kind_name"] == "进展"
    assert data["status"] == "claimed" and data["owner"] == "张姐"
    assert (await client.get("/api/issues/99", headers=auth)).status_code == 404


async def test_open311_maps_kinds_to_services(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    services = (await client.get("/open311/v2/services.json")).json()
    assert [s["service_name"] for s in services] == ["村里事", "邻里事", "户里事"]
    assert {s["service_code"] for s in services} == {"village", "neighbour", "household"}
    auth = bearer(app, "陈镇长")
    requests = (await client.get("/open311/v2/requests.json", headers=auth)).json()
    assert sorted(r["service_request_id"] for r in requests) == ["1", "2", "3"]
    two = next(r for r in requests if r["service_request_id"] == "2")
    assert two["service_code"] == "neighbour" and two["status"] == "open"
    # Open311 never carries a private kind's words, whoever holds the token (here the town).
    assert "隔壁" not in two["description"] and "1381234" not in str(two)
    assert two["description"] == "（邻里事，内容不公开）"
    assert "路灯" in next(r for r in requests if r["service_request_id"] == "1")["description"]
    assert two["requested_datetime"].startswith("2026-11-23T09:00:00+08:00")
    only = await client.get("/open311/v2/requests.json?service_code=village", headers=auth)
    assert sorted(r["service_request_id"] for r in only.json()) == ["1", "3"]
    await say(matters, "张姐: 办结 1 已修好")
    closed = await client.get("/open311/v2/requests.json?status=closed", headers=auth)
    assert [r["service_request_id"] for r in closed.json()] == ["1"]
    assert "已修好" in closed.json()[0]["status_notes"]
    one = await client.get("/open311/v2/requests/2.json", headers=auth)
    assert one.status_code == 200 and one.json()[0]["service_request_id"] == "2"
    picked = await client.get("/open311/v2/requests.json?service_request_id=1,3", headers=auth)
    assert [r["service_request_id"] for r in picked.json()] == ["1", "3"]
    # A village's token reads only its village.
    li = bearer(app, "李书记")
    assert (await client.get("/open311/v2/requests/3.json", headers=li)).status_code == 404


@sqlite_only
async def test_openapi_docs_are_served_without_a_cdn(client: httpx.AsyncClient) -> None:
    docs = await client.get("/api/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    assert (await client.get("/api/docs-assets/swagger-ui-bundle.js")).status_code == 200
    spec = (await client.get("/api/openapi.json")).json()
    assert "/api/issues" in spec["paths"] and "/open311/v2/requests.json" in spec["paths"]
    assert "/issues" not in spec["paths"]  # pages are not API


@sqlite_only
async def test_a_session_also_reads_the_api(client: httpx.AsyncClient, matters: Chat) -> None:
    await login(client, "赵书记")
    data = (await client.get("/api/issues")).json()
    assert [i["number"] for i in data["items"]] == [3]
