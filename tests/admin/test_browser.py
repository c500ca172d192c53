"""The admin in a real browser: Debian's headless Chromium driven by Playwright (no browser
download), against uvicorn on a free loopback port. Log in, filter, open a matter, assign it,
download the ledger, and post in 模拟群聊. SQLite only: the pages are the same on both."""

from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from openpyxl import load_workbook
from sqlmodel import Session

from admin.app import create_app
from bot.app import App
from storage.models import Inbound
from tests.admin.conftest import PASSWORD, events
from tests.conftest import Chat

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI") == "true"

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium; `make browser`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = _missing()
    if problem:
        if IN_CI:
            pytest.fail(f"browser tests must run under CI=true: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(app: App) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(create_app(app), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def _seed(chat: Chat) -> None:
    """#1 路灯 and #2 邻里事 in 新联村, #3 in 石桥村. In a thread of its own: Playwright's sync
    API keeps an event loop running in this one."""
    lines = (
        "张大爷: 村口路灯坏了好几天了，晚上黑乎乎的\n"
        "李大妈: #邻里事 隔壁老刘家的水往我家院子里排\n"
        "@in 石桥村说事群\n老赵: 石桥村的水渠堵了，田里灌不上水"
    )
    worker = threading.Thread(target=chat.say, args=(lines,))
    worker.start()
    worker.join()


def test_log_in_filter_assign_and_export(
    browser: Any, server: str, chat: Chat, app: App, tmp_path: Path
) -> None:
    _seed(chat)
    context = browser.new_context(accept_downloads=True, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{server}/issues")
    assert "/login" in page.url  # not logged in: sent to the log-in page
    page.fill("input[name=name]", "李书记")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/issues")
    assert "共 2 件" in page.inner_text("#counts")  # 新联村 only

    page.fill("input[name=q]", "路灯")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**q=*")
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 1 and "#1" in rows.first.inner_text()

    page.click("text=#1")
    page.wait_for_url(f"{server}/issues/1")
    assert "村口路灯坏了" in page.inner_text("#issue-text")
    page.select_option("form[action='/issues/1/assign'] select", label="王哥（网格员）")
    page.click("form[action='/issues/1/assign'] button")
    page.wait_for_selector("text=已指派给王哥")
    assert page.inner_text("#owner") == "王哥"
    assert events(app, 1)[-1] == ("assigned", "李书记", "王哥")

    page.goto(f"{server}/issues?kind=村里事")
    with page.expect_download() as info:
        page.click("#export-xlsx")
    path = tmp_path / "ledger.xlsx"
    info.value.save_as(path)
    assert info.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(path.read_bytes()))["台账"]
    rows_ = list(sheet.iter_rows(values_only=True))
    assert rows_[0][0] == "编号" and [r[0] for r in rows_[1:]] == [1]
    assert rows_[1][6] == "王哥"
    context.close()


def test_post_in_the_web_chat_and_see_the_reply(browser: Any, server: str, app: App) -> None:
    page = browser.new_page()
    page.goto(f"{server}/")
    page.wait_for_url(lambda url: "/login?next=" in url)  # the web chat: 书记 and 镇领导 only
    page.fill("input[name=name]", "李书记")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/chat")
    page.fill("#who input[name=as]", "张大爷")
    page.click("#who button")
    page.wait_for_url("**as=*")
    group = page.locator(".pane").first
    group.locator("textarea[name=text]").fill("村口的桥栏杆断了，孩子上学很危险")
    group.locator(".composer .send").click()
    page.wait_for_selector("text=已登记 #1")
    assert "桥栏杆" in group.inner_text()
    # 李书记, as himself (not as another cadre), presses 认领 under the bot's answer.
    page.fill("#who input[name=as]", "李书记")
    page.click("#who button")
    page.wait_for_url("**as=*")
    page.locator(".pane").first.locator("button[value=认领]").first.click()
    page.wait_for_selector("text=已由李书记认领")
    assert ("claimed", "李书记", "") in events(app, 1)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: panes stack
    boxes = [page.locator(".pane").nth(i).bounding_box() for i in (0, 1)]
    assert boxes[0] and boxes[1] and boxes[1]["y"] > boxes[0]["y"]
    page.close()


def test_chatter_filter_on_a_phone(browser: Any, server: str, app: App) -> None:
    """390 px wide: the 拿不准 / 闲聊 filter and each post fold into the screen; a chatter post
    is registered with its button and leaves the list."""
    with Session(app.engine) as session:
        for i, (name, text) in enumerate(
            [
                ("王婶", "三组有根电线杆歪了，怕倒下来"),
                ("老周", "三组电线杆那边我也看到了，歪得厉害"),
            ]
        ):
            session.add(
                Inbound(
                    platform="local",
                    chat="新联村说事群",
                    message_id=f"c{i}",
                    sender=f"local:{name}",
                    sender_name=name,
                    text=text,
                    received_at=app.clock.now(),
                    status="chatter",
                )
            )
        session.commit()
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{server}/login?next=/posts")
    page.fill("input[name=name]", "李书记")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/posts")
    page.click("#post-filters >> text=闲聊")
    page.wait_for_url("**status=chatter")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone: no sideways scrolling
    for box in [page.locator("#post-filters a").nth(i).bounding_box() for i in (0, 1)]:
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 2
    first, second = rows.nth(0).bounding_box(), rows.nth(1).bounding_box()
    assert first and second and second["y"] >= first["y"] + first["height"]  # stacked cards
    rows.filter(has_text="怕倒下来").locator("button", has_text="登记").click()
    page.wait_for_selector("text=已登记为 #1")
    assert "status=chatter" in page.url and "怕倒下来" not in page.inner_text("table.list")
    page.close()
