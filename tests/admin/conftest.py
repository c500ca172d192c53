"""Admin fixtures: the ASGI app over the test App (demo grid, fake clock), an httpx client on
the same event loop, and people with passwords."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from functools import cache
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlmodel import Session, col, select

from admin.app import create_app
from bot.app import App
from handlers.deps import DuplicateFinder
from storage.models import ACTIVE_STATUSES, AdminLogin, Event, Issue, Outbox, Person
from tests.conftest import Chat

PASSWORD = "pass-word-1"
# For tests whose subject does not depend on the database (sessions, forms, the web chat's
# page logic): they run on SQLite only, to keep the suite quick.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
# 新联村: 李书记 (书记), 张姐 and 王哥 (网格员); 石桥村: 赵书记, 刘叔; the town: 陈镇长.
PEOPLE = ("李书记", "张姐", "王哥", "赵书记", "陈镇长")


@cache
def _hash() -> str:
    # Verifying uses the parameters stored in the hash: light ones keep the tests quick (the
    # admin hashes with argon2-cffi's defaults, see test_passwords_use_argon2_defaults).
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


@pytest.fixture
def app(make_app: Callable[..., App], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    # Unknown names are checked against a dummy hash as slow as a real one: light here too.
    monkeypatch.setattr("admin.auth._DUMMY_HASH", _hash())
    app = make_app(admin_secret="test-secret", data_dir=tmp_path)
    with Session(app.engine) as session:
        for person in session.exec(select(Person).where(col(Person.name).in_(PEOPLE))):
            session.add(
                AdminLogin(person_id=person.id or 0, password_hash=_hash(), set_at=app.clock.now())
            )
        session.commit()
    return app


@pytest.fixture
def web(app: App) -> FastAPI:
    return create_app(app)


@pytest_asyncio.fixture
async def client(web: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://testserver"
    ) as c:
        yield c


def routes(web: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every API route of the app, routers included."""
    found = []
    for context in iter_route_contexts(web.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path:
            found += [(method, context.path, route) for method in sorted(route.methods or ())]
    return found


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


async def login(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/login")
    return await client.post(
        "/login",
        data={"name": name, "password": password, "csrf": csrf_of(page.text), "next": "/issues"},
    )


async def logged_in(web: FastAPI, name: str) -> httpx.AsyncClient:
    """A second client (own cookies) logged in as `name`; close it after use."""
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://testserver")
    response = await login(c, name)
    assert response.status_code == 303, response.text
    return c


async def post_form(
    client: httpx.AsyncClient, page: str, action: str, data: dict[str, str]
) -> httpx.Response:
    """Submit a form the way a browser does: with the CSRF token of the page it is on."""
    html = (await client.get(page)).text
    return await client.post(action, data={**data, "csrf": csrf_of(html)})


def events(app: App, number: int) -> list[tuple[str, str, str]]:
    with Session(app.engine) as session:
        issue = session.exec(select(Issue).where(Issue.number == number)).one()
        rows = session.exec(
            select(Event).where(Event.issue_id == issue.id).order_by(col(Event.id))
        ).all()
        return [(e.kind, e.actor, e.detail) for e in rows]


def outbox(app: App, since: int = 0) -> list[Outbox]:
    with Session(app.engine) as session:
        return list(
            session.exec(select(Outbox).where(col(Outbox.id) > since).order_by(col(Outbox.id)))
        )


def last_outbox_id(app: App) -> int:
    rows = outbox(app)
    return rows[-1].id or 0 if rows else 0


def issue(app: App, number: int) -> Issue:
    with Session(app.engine) as session:
        return session.exec(select(Issue).where(Issue.number == number)).one()


@pytest.fixture
def matters(chat: Chat) -> Chat:
    """#1 村里事 (新联村, 张姐), #2 邻里事 with a phone number (新联村, 王哥),
    #3 村里事 in 石桥村."""
    chat.say("张大爷: 村口路灯坏了好几天了，晚上黑乎乎的")
    chat.say("李大妈: #邻里事 隔壁老刘家的水往我家院子里排，电话13812345678")
    chat.say("@in 石桥村说事群\n老赵: 石桥村的水渠堵了，田里灌不上水")
    chat.say("@in 新联村说事群")
    return chat


NOW = datetime(2026, 11, 23, 9, 0)


async def say(chat: Chat, script: str) -> None:
    """Chat.say for async tests (the event loop is already running)."""
    await chat.runner.run_lines(script.strip().splitlines())


class Linker:
    """Duplicate detection that links what a test says is the same matter: a post containing
    one of `links`' words goes under that open issue of its village (whatever the real
    detector would say: the subject of these tests is what people do with such links)."""

    def __init__(self, real: DuplicateFinder | None) -> None:
        self.real = real
        self.links: dict[str, int] = {}

    def keys(self, text: str) -> dict[str, str | None]:
        return self.real.keys(text) if self.real else {}

    def find(
        self, session: Session, *, village_id: int, text: str, kind: str, now: datetime
    ) -> Issue | None:
        for word, number in self.links.items():
            if word in text:
                issue = session.exec(select(Issue).where(Issue.number == number)).first()
                if (
                    issue is not None
                    and issue.village_id == village_id
                    and issue.status in ACTIVE_STATUSES
                ):
                    return issue
        return None


@pytest.fixture
def linker(app: App) -> Linker:
    found = Linker(app.deps.duplicates)
    app.deps.duplicates = found
    return found
