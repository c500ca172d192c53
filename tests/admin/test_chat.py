"""模拟群聊: posting and pressing buttons on the web page go through the real intake, and the
bot's answers appear in the group and private views. Only a logged-in 书记 (their village) or
镇领导 reaches it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, func, select

from admin.app import create_app, welcome
from bot.app import App
from storage.models import Inbound, Outbox
from tests.admin.conftest import csrf_of, events, issue, logged_in, login, routes, sqlite_only

pytestmark = pytest.mark.asyncio
GROUP = "新联村说事群"


async def post(client: httpx.AsyncClient, name: str, text: str, **extra: str) -> httpx.Response:
    page = await client.get(f"/chat?group={GROUP}&as={name}")
    return await client.post(
        "/chat/post",
        data={"csrf": csrf_of(page.text), "name": name, "group": GROUP, "text": text, **extra},
    )


async def press(client: httpx.AsyncClient, name: str, message: int, label: str) -> None:
    page = await client.get(f"/chat?group={GROUP}&as={name}")
    r = await client.post(
        "/chat/press",
        data={
            "csrf": csrf_of(page.text),
            "name": name,
            "group": GROUP,
            "message": str(message),
            "label": label,
        },
    )
    assert r.status_code == 303


def sent(app: App) -> list[Outbox]:
    with Session(app.engine) as session:
        return list(session.exec(select(Outbox).where(Outbox.status == "sent")))


@sqlite_only
async def test_post_press_and_see_the_replies(client: httpx.AsyncClient, app: App) -> None:
    await login(client, "李书记")
    r = await post(client, "张大爷", "村口路灯坏了好几天了，晚上黑乎乎的")
    assert r.status_code == 303 and r.headers["location"].endswith("#end")
    page = (await client.get(r.headers["location"])).text
    assert "村口路灯坏了好几天了" in page and "已登记 #1" in page and "@张大爷" in page
    assert all(row.platform_message_id for row in sent(app))  # delivered at once
    # The 书记, as himself, presses 认领 under the bot's answer in the group.
    ack = next(m for m in sent(app) if not m.private and "#1" in m.text)
    mine = (await client.get(f"/chat?group={GROUP}&as=李书记")).text
    assert ">认领</button>" in mine
    await press(client, "李书记", ack.id or 0, "认领")
    assert issue(app, 1).status == "claimed"
    assert ("claimed", "李书记", "") in events(app, 1)
    # A villager pressing a cadre's button gets the handler's refusal shown.
    await press(client, "王婶", ack.id or 0, "认领")
    page = (await client.get(f"/chat?group={GROUP}&as=王婶")).text
    assert "只有网格员和村干部能认领" in page or "已由李书记认领" in page
    # Private posts and replies to the bot's messages.
    await post(client, "李书记", "已经联系电工了", reply_to=ack.platform_message_id or "")
    assert events(app, 1)[-1][:2] == ("note", "李书记")
    await post(client, "李书记", "办结 1 已换新灯泡", private="1")
    assert issue(app, 1).status == "closed"
    feed = (await client.get(f"/chat/feed?group={GROUP}&as=张大爷")).text
    assert "已换新灯泡" in feed and "<html" not in feed


@sqlite_only
async def test_a_cadre_speaks_as_themself_or_a_test_villager_never_as_another_cadre(
    web: FastAPI, app: App
) -> None:
    li = await logged_in(web, "李书记")
    try:
        page = await li.get(f"/chat?group={GROUP}")
        assert page.status_code == 200
        # Offered: himself and the test villagers; no other cadre of the grid.
        offered = re.findall(r'<option value="([^"]+)">', page.text.split('id="people"')[1])
        assert "李书记" in offered and "张大爷" in offered
        assert not {"张姐", "王哥", "陈镇长", "赵书记"} & set(offered)
        before = _counts(app)
        token = csrf_of(page.text)
        for other in ("张姐", "王哥", "陈镇长"):
            assert (await li.get(f"/chat?group={GROUP}&as={other}")).status_code == 403
            assert (await li.get(f"/chat/feed?group={GROUP}&as={other}")).status_code == 403
            as_other = {"csrf": token, "name": other, "group": GROUP, "text": "办结 1 好了"}
            r = await li.post("/chat/post", data=as_other)
            assert r.status_code == 403 and "不能冒充别的干部" in r.text
            r = await li.post("/chat/post", data={**as_other, "private": "1"})
            assert r.status_code == 403
        assert _counts(app) == before
        ok = {"csrf": token, "name": "李书记", "group": GROUP, "text": "大家好，我是李书记"}
        assert (await li.post("/chat/post", data=ok)).status_code == 303
        with Session(app.engine) as session:
            last = session.exec(select(Inbound).order_by(Inbound.id.desc())).first()  # type: ignore[union-attr]
        assert last is not None and last.sender == "local:李书记"
    finally:
        await li.aclose()
    town = await logged_in(web, "陈镇长")  # the whole town, but still only as himself
    try:
        assert (await town.get(f"/chat?group={GROUP}&as=陈镇长")).status_code == 200
        assert (await town.get(f"/chat?group={GROUP}&as=老赵")).status_code == 200
        assert (await town.get(f"/chat?group={GROUP}&as=李书记")).status_code == 403
        assert (await town.get(f"/chat?group={GROUP}&as=张姐")).status_code == 403
    finally:
        await town.aclose()


@sqlite_only
async def test_chat_is_off_when_a_real_platform_is_configured(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    app = make_app(admin_secret="x", data_dir=tmp_path, telegram_bot_token="123:abc")
    web = create_app(app)
    assert "local" not in app.transports
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://testserver"
    ) as client:
        assert (await client.get("/chat")).status_code == 404
        assert (await client.get("/")).headers["location"] == "/login"
    assert "/chat" not in welcome(app) and "/issues" in welcome(app)


@sqlite_only
async def test_start_message_names_the_web_chat(app: App) -> None:
    create_app(app)
    assert re.search(r"模拟群聊 http://127\.0\.0\.1:8000/chat", welcome(app))


def _counts(app: App) -> tuple[int, int]:
    with Session(app.engine) as session:
        inbound = session.exec(select(func.count()).select_from(Inbound)).one()
        out = session.exec(select(func.count()).select_from(Outbox)).one()
        return int(inbound), int(out)


def chat_routes(web: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route under /chat, as the app has them."""
    found = [(method, path) for method, path, _ in routes(web) if path.startswith("/chat")]
    assert ("GET", "/chat") in found and ("POST", "/chat/post") in found
    return found


@sqlite_only
async def test_no_anonymous_request_reaches_any_chat_route(
    web: FastAPI, client: httpx.AsyncClient, app: App
) -> None:
    before = _counts(app)
    token = csrf_of((await client.get("/login")).text)  # a valid token of an anonymous session
    form = {"csrf": token, "name": "李书记", "group": GROUP, "text": "路灯坏了", "message": "1"}
    form["label"] = "认领"
    for method, path in chat_routes(web):
        query = f"?group={GROUP}&as=张姐"
        r = await client.request(method, path + query, data=form if method == "POST" else None)
        assert r.status_code == 303, (method, path, r.status_code)
        assert r.headers["location"].startswith("/login?next="), (method, path)
        assert "张姐" not in r.text and "私聊" not in r.text
    assert _counts(app) == before  # nothing was posted or pressed
    # Logged in, but neither 书记 nor 镇领导: refused too.
    zhang = await logged_in(web, "张姐")
    try:
        for method, path in chat_routes(web):
            data = {**form, "csrf": csrf_of((await zhang.get("/issues")).text)}
            r = await zhang.request(method, path, data=data if method == "POST" else None)
            assert r.status_code == 403 and "只给书记和镇领导用" in r.text, (method, path)
    finally:
        await zhang.aclose()
    assert _counts(app) == before


@sqlite_only
async def test_a_secretary_chats_only_in_their_own_village(web: FastAPI, app: App) -> None:
    zhao = await logged_in(web, "赵书记")  # 石桥村
    try:
        page = await zhao.get(f"/chat?group={GROUP}&as=老赵")
        assert page.status_code == 200
        assert "石桥村说事群" in page.text and GROUP not in page.text  # only its own groups
        assert (await zhao.get("/chat?as=张姐")).status_code == 403  # 新联村's 网格员
        assert (await zhao.get("/chat/feed?as=李书记")).status_code == 403
        before = _counts(app)
        token = csrf_of(page.text)
        into_other = {"csrf": token, "name": "老赵", "group": GROUP, "text": "路灯坏了"}
        assert (await zhao.post("/chat/post", data=into_other)).status_code == 403
        as_other = {
            "csrf": token,
            "name": "张姐",
            "group": "",
            "text": "办结 1 好了",
            "private": "1",
        }
        assert (await zhao.post("/chat/post", data=as_other)).status_code == 403
        assert _counts(app) == before
        ok = {"csrf": token, "name": "老赵", "group": "石桥村说事群", "text": "水渠堵了，灌不上水"}
        assert (await zhao.post("/chat/post", data=ok)).status_code == 303
        assert _counts(app)[0] == before[0] + 1
    finally:
        await zhao.aclose()
    town = await logged_in(web, "陈镇长")
    try:
        assert (await town.get(f"/chat?group={GROUP}&as=王婶")).status_code == 200
    finally:
        await town.aclose()


@sqlite_only
async def test_a_button_of_another_village_cannot_be_pressed(web: FastAPI, app: App) -> None:
    li = await logged_in(web, "李书记")
    try:
        await post(li, "张大爷", "村口路灯坏了好几天了，晚上黑乎乎的")
    finally:
        await li.aclose()
    notice = next(m for m in sent(app) if m.private and m.recipient == "张姐")
    zhao = await logged_in(web, "赵书记")
    try:
        token = csrf_of((await zhao.get("/chat")).text)
        data = {
            "csrf": token,
            "name": "刘叔",
            "group": "",
            "message": str(notice.id),
            "label": "认领",
        }
        assert (await zhao.post("/chat/press", data=data)).status_code == 403
        huge = {**data, "message": "99999999999999999999999"}
        assert (await zhao.post("/chat/press", data=huge)).status_code == 422
    finally:
        await zhao.aclose()
    assert issue(app, 1).status == "open"


@sqlite_only
@pytest.mark.parametrize(
    ("host", "switch", "open_"),
    [
        ("0.0.0.0", None, False),  # the container: reachable by others, chat off
        ("192.168.1.20", None, False),
        ("0.0.0.0", True, True),  # ADMIN_CHAT=true: the operator says so
        ("127.0.0.1", None, True),
        ("::1", None, True),
        ("localhost", None, True),
    ],
)
async def test_chat_is_off_when_the_admin_listens_beyond_this_machine(
    make_app: Callable[..., App], tmp_path: Path, host: str, switch: bool | None, open_: bool
) -> None:
    extra = {} if switch is None else {"admin_chat": switch}
    app = make_app(admin_secret="x", data_dir=tmp_path, admin_host=host, **extra)
    web = create_app(app)
    assert ("local" in app.transports) is open_  # nothing serves the web chat's platform
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://testserver"
    ) as client:
        r = await client.get("/chat")
        if open_:
            assert r.status_code == 303 and r.headers["location"].startswith("/login")
        else:
            assert r.status_code == 404
            assert "/chat" not in (await client.get("/login")).text  # not in the navigation
    assert ("/chat" in welcome(app)) is open_
