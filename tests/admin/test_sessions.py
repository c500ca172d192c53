"""Sessions live on the server: a log-out, a new password or leaving the grid ends them, also
for a copy of the cookie. Failed log-ins are counted in the database: the limits hold across
instances, trust X-Forwarded-For only from a configured proxy, and never lock the real person
out of their name."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, func, select

from admin.app import SESSION_COOKIE, create_app
from admin.auth import set_password
from admin.security import AdminOptions, parse_networks
from bot.app import App
from handlers.clock import FakeClock
from storage.admin_tables import AdminLoginFailure, AdminSession
from storage.grid import load_grid, sync_grid
from storage.models import Person
from tests.admin.conftest import PASSWORD, csrf_of, logged_in, login

pytestmark = pytest.mark.asyncio


def client_at(web: FastAPI, address: str, **headers: str) -> httpx.AsyncClient:
    """A browser at this address (the peer the app sees)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web, client=(address, 40000)),
        base_url="http://testserver",
        headers=headers,
    )


def sessions_of(app: App, name: str) -> int:
    with Session(app.engine) as session:
        person = session.exec(select(Person).where(Person.name == name)).one()
        query = select(func.count()).where(AdminSession.person_id == person.id)
        return int(session.exec(query).one())


def copy_of(client: httpx.AsyncClient, web: FastAPI) -> httpx.AsyncClient:
    """Another browser holding a copy of this one's session cookie."""
    cookie = client.cookies[SESSION_COOKIE]
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: cookie},
    )


# --- sessions ----------------------------------------------------------------------------------


async def test_a_cookie_copied_before_log_out_stops_working(web: FastAPI, app: App) -> None:
    li = await logged_in(web, "李书记")
    thief = copy_of(li, web)
    try:
        assert (await thief.get("/issues")).status_code == 200  # the copy works while logged in
        assert sessions_of(app, "李书记") == 1
        token = csrf_of((await li.get("/issues")).text)
        assert (await li.post("/logout", data={"csrf": token})).status_code == 303
        assert sessions_of(app, "李书记") == 0
        gone = await thief.get("/issues")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
        assert (await thief.get("/api/issues")).status_code == 401
    finally:
        await li.aclose()
        await thief.aclose()


async def test_the_cookie_holds_a_random_token_only(web: FastAPI, app: App) -> None:
    li = await logged_in(web, "李书记")
    try:
        value = li.cookies[SESSION_COOKIE].split(".")[0]
        data = json.loads(base64.b64decode(value + "=" * (-len(value) % 4)))
        assert set(data) == {"sid", "csrf"} and len(data["sid"]) >= 40
        with Session(app.engine) as session:
            stored = session.exec(select(AdminSession)).one()
        assert data["sid"] not in stored.id and len(stored.id) == 64  # only its hash is kept
    finally:
        await li.aclose()


async def test_a_new_password_ends_every_session_of_that_person(web: FastAPI, app: App) -> None:
    first, second = await logged_in(web, "李书记"), await logged_in(web, "李书记")
    zhang = await logged_in(web, "张姐")
    try:
        with Session(app.engine) as session:
            person = session.exec(select(Person).where(Person.name == "李书记")).one()
            set_password(session, person, "another-pass-1", app.clock.now())
            session.commit()
        assert (await first.get("/issues")).status_code == 303
        assert (await second.get("/issues")).status_code == 303
        assert sessions_of(app, "李书记") == 0
        assert (await zhang.get("/issues")).status_code == 200  # someone else's stay
    finally:
        for c in (first, second, zhang):
            await c.aclose()


async def test_leaving_the_grid_ends_the_sessions_for_good(
    web: FastAPI, app: App, tmp_path: Path
) -> None:
    zhang = await logged_in(web, "张姐")
    thief = copy_of(zhang, web)
    demo = app.settings.grid_file.read_text(encoding="utf-8")
    start = demo.index('name = "张姐"')
    block = demo.rfind("[[", 0, start)
    end = demo.index("[[", start)
    without = tmp_path / "grid.toml"
    rest = (demo[:block] + demo[end:]).replace('members = ["张姐", "王哥"]', 'members = ["王哥"]')
    without.write_text(rest, encoding="utf-8")
    try:
        with Session(app.engine) as session:
            sync_grid(session, load_grid(without))  # 张姐 is no longer in the grid
            session.commit()
        assert sessions_of(app, "张姐") == 0
        with Session(app.engine) as session:
            sync_grid(session, load_grid(app.settings.grid_file))  # and back again
            session.commit()
        for c in (zhang, thief):
            assert (await c.get("/issues")).status_code == 303  # the old log-in stays ended
        assert (await login(zhang, "张姐")).status_code == 303  # a new one works
    finally:
        await zhang.aclose()
        await thief.aclose()


async def test_a_session_expires_on_the_server_too(web: FastAPI, app: App) -> None:
    li = await logged_in(web, "李书记")
    try:
        assert isinstance(app.clock, FakeClock)
        app.clock.advance(timedelta(hours=app.settings.admin_session_hours, seconds=1))
        assert (await li.get("/issues")).status_code == 303
        await login(li, "张姐")  # a later log-in clears expired rows
        assert sessions_of(app, "李书记") == 0
    finally:
        await li.aclose()


# --- log-in limits -----------------------------------------------------------------------------


async def test_strangers_cannot_lock_the_real_person_out(web: FastAPI, app: App) -> None:
    for i in range(5):  # five wrong tries for 李书记, each from another address
        async with client_at(web, f"203.0.113.{i + 1}") as stranger:
            assert (await login(stranger, "李书记", "guess")).status_code == 401
    async with client_at(web, "198.51.100.9") as real:
        assert (await login(real, "李书记", PASSWORD)).status_code == 303  # still gets in
    # While the name is under attack, a wrong try makes its own address wait at once.
    async with client_at(web, "198.51.100.10") as another:
        assert (await login(another, "李书记", "guess")).status_code == 401
        blocked = await login(another, "李书记", PASSWORD)
        assert blocked.status_code == 429 and "秒后再试" in blocked.text
        assert 0 < int(blocked.headers["retry-after"]) <= 61
    assert isinstance(app.clock, FakeClock)
    app.clock.advance(timedelta(seconds=61))
    async with client_at(web, "198.51.100.10") as another:
        assert (await login(another, "李书记", PASSWORD)).status_code == 303  # a short wait


async def test_the_per_address_limit_holds_even_for_the_right_password(
    web: FastAPI, app: App
) -> None:
    async with client_at(web, "203.0.113.50") as c:
        for i in range(5):
            assert (await login(c, f"不存在{i}", "guess")).status_code == 401
        blocked = await login(c, "陈镇长", PASSWORD)
        assert blocked.status_code == 429
        assert "登录失败的次数太多，请等" in blocked.text and "秒后再试" in blocked.text
    async with client_at(web, "203.0.113.51") as elsewhere:
        assert (await login(elsewhere, "陈镇长", PASSWORD)).status_code == 303


async def test_counters_are_shared_by_every_instance(web: FastAPI, app: App) -> None:
    second = create_app(app)  # another instance on the same database
    async with client_at(web, "203.0.113.60") as one, client_at(second, "203.0.113.60") as two:
        for c in (one, two, one, two, one):
            assert (await login(c, "王哥", "guess")).status_code == 401
        assert (await login(two, "王哥", PASSWORD)).status_code == 429
    with Session(app.engine) as session:
        assert session.exec(select(func.count()).select_from(AdminLoginFailure)).one() == 10


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(app: App) -> None:
    # No proxy configured: X-Forwarded-For is whatever the client writes; it is ignored.
    plain = create_app(app)
    async with client_at(plain, "203.0.113.70") as c:
        for i in range(5):
            c.headers["X-Forwarded-For"] = f"192.0.2.{i}"
            assert (await login(c, f"不存在{i}", "guess")).status_code == 401
        c.headers["X-Forwarded-For"] = "192.0.2.99"
        assert (await login(c, "陈镇长", PASSWORD)).status_code == 429
    # Behind a configured proxy: its X-Forwarded-For names the client; what the client wrote
    # into the header itself (left of the proxy's entry) changes nothing.
    proxied = create_app(app, AdminOptions(trusted_proxies=parse_networks("10.0.0.5")))
    async with client_at(proxied, "10.0.0.5") as proxy:
        for i in range(5):
            proxy.headers["X-Forwarded-For"] = f"192.0.2.{i}, 198.51.100.20"
            assert (await login(proxy, f"不存在{i}", "guess")).status_code == 401
        proxy.headers["X-Forwarded-For"] = "192.0.2.200, 198.51.100.20"
        assert (await login(proxy, "陈镇长", PASSWORD)).status_code == 429  # that client waits
        proxy.headers["X-Forwarded-For"] = "198.51.100.21"
        assert (await login(proxy, "陈镇长", PASSWORD)).status_code == 303  # others do not
