"""Every access rule of the admin: no log-in, another village, tokens, CSRF, brute force,
and what a session cookie looks like."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from admin.auth import new_token
from bot.app import App
from handlers.clock import FakeClock
from storage.models import ApiToken, Person, Village
from tests.admin.conftest import (
    PASSWORD,
    csrf_of,
    events,
    logged_in,
    login,
    post_form,
    sqlite_only,
)
from tests.conftest import Chat

pytestmark = pytest.mark.asyncio


def token_for(app: App, name: str) -> str:
    with Session(app.engine) as session:
        person = session.exec(select(Person).where(Person.name == name)).one()
        token = new_token(session, person, app.clock.now(), "测试")
        session.commit()
    return token


def person_id(app: App, name: str) -> int:
    with Session(app.engine) as session:
        return session.exec(select(Person).where(Person.name == name)).one().id or 0


def village_id(app: App, name: str) -> int:
    with Session(app.engine) as session:
        return session.exec(select(Village).where(Village.name == name)).one().id or 0


async def test_without_log_in_pages_redirect_and_api_refuses(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    for path in ("/issues", "/issues/1", "/posts", "/stats", "/status", "/export.xlsx"):
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    for path in ("/api/issues", "/api/issues/1", "/api/stats", "/open311/v2/requests.json"):
        r = await client.get(path)
        assert r.status_code == 401, path
        assert "application/json" in r.headers["content-type"]
    assert (await client.get("/open311/v2/services.json")).status_code == 200
    # A form posted without a session changes nothing.
    page = await client.get("/login")
    r = await client.post("/issues/1/note", data={"text": "偷偷记一笔", "csrf": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert all(kind != "note" for kind, _, _ in events(app, 1))
    assert (await client.get("/healthz")).json() == {"status": "ok"}


@sqlite_only
async def test_home_redirects_by_who_is_asking(client: httpx.AsyncClient) -> None:
    assert (await client.get("/")).headers["location"] == "/chat"  # no platform: the web chat
    await login(client, "李书记")
    assert (await client.get("/")).headers["location"] == "/issues"


async def test_a_village_secretary_sees_only_their_village(
    web: FastAPI, matters: Chat, app: App
) -> None:
    zhao = await logged_in(web, "赵书记")  # 石桥村
    try:
        listing = await zhao.get("/issues")
        assert "#3" in listing.text and "#1<" not in listing.text and "#2<" not in listing.text
        assert "共 <b>1</b> 件" in listing.text
        assert (await zhao.get("/issues/1")).status_code == 404
        assert (await zhao.get("/api/issues/1")).status_code == 404
        xinlian = village_id(app, "新联村")
        filtered = await zhao.get(f"/issues?village={xinlian}")
        assert "共 <b>0</b> 件" in filtered.text
        api = (await zhao.get("/api/issues")).json()
        assert [i["number"] for i in api["items"]] == [3]
        r = await post_form(zhao, "/issues/3", "/issues/1/note", {"text": "不是我村的"})
        assert r.status_code == 404
        assert all(kind != "note" for kind, _, _ in events(app, 1))
        export = await zhao.get("/export.csv")
        assert "水渠" in export.text and "路灯" not in export.text
        assert (await zhao.get("/open311/v2/requests/1.json")).status_code == 404
    finally:
        await zhao.aclose()
    town = await logged_in(web, "陈镇长")
    try:
        listing = await town.get("/issues")
        assert all(f"#{n}<" in listing.text for n in (1, 2, 3))
        assert (await town.get("/issues/3")).status_code == 200
    finally:
        await town.aclose()


@sqlite_only
async def test_a_grid_member_may_not_assign(web: FastAPI, matters: Chat, app: App) -> None:
    zhang = await logged_in(web, "张姐")
    try:
        page = await zhang.get("/issues/1")
        assert 'action="/issues/1/assign"' not in page.text  # no form for what is not allowed
        wang = str(person_id(app, "王哥"))
        r = await post_form(zhang, "/issues/1", "/issues/1/assign", {"person": wang})
        assert r.status_code == 303
        assert "只有书记和镇领导能指派" in (await zhang.get("/issues/1")).text
        assert [k for k, _, _ in events(app, 1)].count("assigned") == 1  # only the first one
    finally:
        await zhang.aclose()


async def test_api_tokens(client: httpx.AsyncClient, matters: Chat, app: App) -> None:
    token = token_for(app, "张姐")
    with Session(app.engine) as session:
        stored = session.exec(select(ApiToken)).one()
        assert token not in stored.token_hash and len(stored.token_hash) == 64  # hashed
    ok = await client.get("/api/issues", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert sorted(i["number"] for i in ok.json()["items"]) == [1, 2]  # 新联村 only
    wrong = await client.get("/api/issues", headers={"Authorization": "Bearer ss_wrong"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert (await client.get(f"/open311/v2/requests.json?api_key={token}")).status_code == 200
    assert (await client.get("/open311/v2/requests.json?api_key=nope")).status_code == 401
    # A token is no log-in for the pages, and a revoked token opens nothing.
    page = await client.get("/issues", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 303
    with Session(app.engine) as session:
        stored = session.exec(select(ApiToken)).one()
        stored.revoked_at = app.clock.now()
        session.add(stored)
        session.commit()
    gone = await client.get("/api/issues", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401


@sqlite_only
async def test_csrf_is_checked_on_every_form(
    client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    # Log-in form without the token: refused even with the right password.
    r = await client.post("/login", data={"name": "李书记", "password": PASSWORD})
    assert r.status_code == 403
    await login(client, "李书记")
    before = events(app, 1)
    for action, data in [
        ("/issues/1/note", {"text": "没有令牌"}),
        ("/issues/1/close", {"result": "没有令牌"}),
        ("/issues/1/assign", {"person": str(person_id(app, "王哥"))}),
        ("/issues/1/due", {"due": "3天"}),
        ("/issues/1/kind", {"kind": "邻里事"}),
        ("/logout", {}),
    ]:
        missing = await client.post(action, data=data)
        wrong = await client.post(action, data={**data, "csrf": "forged"})
        assert missing.status_code == wrong.status_code == 403, action
    assert events(app, 1) == before
    assert (await client.get("/issues")).status_code == 200  # still logged in (logout refused)


@sqlite_only
async def test_brute_force_is_slowed_per_name_and_per_address(
    client: httpx.AsyncClient, app: App
) -> None:
    for _ in range(5):
        assert (await login(client, "李书记", "guess")).status_code == 401
    blocked = await login(client, "李书记", PASSWORD)  # even the right password now
    assert blocked.status_code == 429 and "秒后再试" in blocked.text
    assert int(blocked.headers["retry-after"]) <= 61
    assert isinstance(app.clock, FakeClock)
    app.clock.advance(timedelta(seconds=61))
    assert (await login(client, "李书记", PASSWORD)).status_code == 303
    # Per address: five different names from one address also stop the sixth.
    for i in range(5):
        await login(client, f"不存在{i}", "guess")
    assert (await login(client, "陈镇长", PASSWORD)).status_code == 429


@sqlite_only
async def test_session_cookie_is_httponly_lax_and_ends(client: httpx.AsyncClient, app: App) -> None:
    r = await login(client, "李书记")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert (await client.get("/issues")).status_code == 200
    # A new password ends sessions opened with the old one.
    from admin.auth import set_password

    with Session(app.engine) as session:
        person = session.exec(select(Person).where(Person.name == "李书记")).one()
        set_password(session, person, "another-pass-1", app.clock.now())
        session.commit()
    assert (await client.get("/issues")).status_code == 303
    assert (await login(client, "李书记", "another-pass-1")).status_code == 303
    assert isinstance(app.clock, FakeClock)
    app.clock.advance(timedelta(hours=app.settings.admin_session_hours, minutes=1))
    assert (await client.get("/issues")).status_code == 303  # the log-in has expired


@sqlite_only
async def test_log_in_only_goes_back_to_this_site(client: httpx.AsyncClient) -> None:
    page = await client.get("/login?next=//evil.example/x")
    r = await client.post(
        "/login",
        data={
            "name": "李书记",
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "next": "//evil.example/x",
        },
    )
    assert r.headers["location"] == "/issues"


@sqlite_only
async def test_status_page_is_for_leaders(web: FastAPI, app: App) -> None:
    zhang = await logged_in(web, "张姐")
    li = await logged_in(web, "李书记")
    try:
        assert (await zhang.get("/status")).status_code == 403
        page = await li.get("/status")
        assert page.status_code == 200 and "数据库" in page.text
    finally:
        await zhang.aclose()
        await li.aclose()
