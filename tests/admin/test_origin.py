"""Cookies are Secure whenever the admin is reached over HTTPS (its public URL, or a trusted
proxy saying so), and a state-changing request must come from a page of this site: a valid CSRF
token with a foreign Origin or Referer is refused."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from admin.app import create_app
from admin.security import AdminOptions, admin_options, parse_networks
from bot.app import App
from ports.settings import Settings
from tests.admin.conftest import PASSWORD, csrf_of, events, login, routes, sqlite_only
from tests.conftest import Chat

PUBLIC = "https://shuoshi.example.org"


def client_of(
    web: FastAPI, address: str = "127.0.0.1", base: str = "http://testserver", **headers: str
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web, client=(address, 40000)),
        base_url=base,
        headers=headers,
    )


async def cookie_flags(web: FastAPI, address: str = "127.0.0.1", **headers: str) -> list[str]:
    """The flags of the session cookie the log-in page sets (with its CSRF token)."""
    async with client_of(web, address, **headers) as c:
        r = await c.get("/login")
        return [f.strip().lower() for f in r.headers["set-cookie"].split(";")]


def test_secure_cookie_is_decided_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADMIN_SECURE_COOKIE", raising=False)
    assert admin_options(Settings(_env_file=None)).secure_cookie is None  # type: ignore[call-arg]
    monkeypatch.setenv("ADMIN_SECURE_COOKIE", "false")
    assert admin_options(Settings(_env_file=None)).secure_cookie is False  # type: ignore[call-arg]
    configured = SimpleNamespace(
        admin_public_url=PUBLIC,
        admin_secure_cookie=False,
        admin_trusted_proxies="127.0.0.1, 10.0.0.0/8",
        model_fields_set=set(),  # ADMIN_SECURE_COOKIE not set: the default is not a "false"
    )
    options = admin_options(configured)
    assert options.always_secure and options.secure_cookie is None
    assert options.trusted_proxies == parse_networks("127.0.0.1 10.0.0.0/8")
    with pytest.raises(ValueError, match="ADMIN_TRUSTED_PROXIES"):
        parse_networks("caddy")


@pytest.mark.asyncio
@sqlite_only
async def test_cookies_are_secure_when_the_public_url_is_https(app: App) -> None:
    assert "secure" in await cookie_flags(create_app(app, AdminOptions(public_url=PUBLIC)))
    assert "secure" not in await cookie_flags(create_app(app, AdminOptions()))  # plain http
    forced = AdminOptions(public_url=PUBLIC, secure_cookie=False)
    assert "secure" not in await cookie_flags(create_app(app, forced))
    assert "secure" in await cookie_flags(create_app(app, AdminOptions(secure_cookie=True)))


@pytest.mark.asyncio
@sqlite_only
async def test_cookies_are_secure_behind_a_trusted_tls_proxy(app: App) -> None:
    options = AdminOptions(trusted_proxies=parse_networks("10.0.0.5"))
    web = create_app(app, options)
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.1"}
    assert "secure" in await cookie_flags(web, "10.0.0.5", **https)
    # Anyone else saying so is not believed (and gets no cookie it could not send back).
    assert "secure" not in await cookie_flags(web, "203.0.113.1", **https)
    assert "secure" not in await cookie_flags(web, "10.0.0.5", **{"X-Forwarded-Proto": "http"})


@pytest.mark.asyncio
async def test_a_valid_token_with_a_foreign_origin_is_refused_everywhere(
    web: FastAPI, client: httpx.AsyncClient, matters: Chat, app: App
) -> None:
    await login(client, "李书记")
    token = csrf_of((await client.get("/issues/1")).text)
    before = events(app, 1)
    posts = [(path, route) for method, path, route in routes(web) if method == "POST"]
    assert any(p == "/login" for p, _ in posts) and any(p == "/logout" for p, _ in posts)
    form = {
        "csrf": token,
        "text": "外站来的",
        "result": "外站来的",
        "person": "1",
        "kind": "邻里事",
    }
    form |= {"due": "3天", "name": "李书记", "password": PASSWORD, "message": "1", "label": "认领"}
    for path, _ in posts:
        target = path.replace("{number}", "1").replace("{inbound_id}", "1")
        for headers in (
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Referer": "https://evil.example/page"},
            {"Origin": "http://testserver.evil.example"},
            {"Origin": "http://testserver:8080"},
        ):
            r = await client.post(target, data=form, headers=headers)
            assert r.status_code == 403, (path, headers, r.status_code)
            assert "来自别的网站" in r.text, path
    assert events(app, 1) == before
    assert (await client.get("/issues")).status_code == 200  # still logged in: logout refused
    # From this site's own pages (Origin or Referer of this host, or of the public URL).
    for headers in ({"Origin": "http://testserver"}, {"Referer": "http://testserver/issues/1"}):
        r = await client.post(
            "/issues/1/note", data={"csrf": token, "text": "本站"}, headers=headers
        )
        assert r.status_code == 303
    assert [e for e in events(app, 1) if e[0] == "note"][-1][2] == "本站"


@pytest.mark.asyncio
@sqlite_only
async def test_the_public_url_is_this_site_behind_a_proxy(app: App) -> None:
    web = create_app(app, AdminOptions(public_url=PUBLIC))
    async with client_of(web, base="https://10.0.0.11:8000") as c:  # Secure cookies: https
        page = await c.get("/login")
        data = {"name": "李书记", "password": PASSWORD, "csrf": csrf_of(page.text)}
        # The request reaches the instance under its own address (the proxy set another Host);
        # the browser's Origin is the public one.
        r = await c.post("/login", data=data, headers={"Origin": PUBLIC})
        assert r.status_code == 303
        bad = await c.post(
            "/logout",
            data={"csrf": csrf_of((await c.get("/issues")).text)},
            headers={"Origin": "https://shuoshi.example.org.evil.example"},
        )
        assert bad.status_code == 403
