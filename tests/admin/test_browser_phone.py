"""Every admin page on a phone (390×844) and a desktop (1280×800), in Chromium (issue 17):
nothing wider than the screen, every link, button and field big enough to tap (44×44 px on a
phone, 24×24 px with a mouse), body text at least 16 px on a phone, text contrast at least
4.5:1, a skip link, the navigation saying where one is.

The pages are listed once, in PAGES; test_every_page_is_listed fails when a page is added to
the admin without being listed here. One site (demo grid, three matters, two kept posts) serves
the whole module; each check opens a fresh browser tab with 李书记's log-in."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlmodel import Session, col, select

from admin.app import create_app
from bot.app import App, build
from handlers.clock import FakeClock
from ports.settings import DEMO_GRID, Settings
from storage.models import AdminLogin, Inbound, Person
from tests.admin.conftest import PASSWORD, _hash, routes, sqlite_only
from tests.admin.test_browser import _free_port, browser  # noqa: F401  (the fixture)
from tests.conftest import START, Chat

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# WCAG 2.5.5 (AAA) for fingers; 2.5.8 (AA) for a mouse.
MIN_TARGET = {"phone": 44, "desktop": 24}
MIN_TEXT_PX = 16  # on a phone
MIN_CONTRAST = 4.5  # WCAG 1.4.3 (AA), normal text


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    route: str | None  # the app's route it shows (None: an error page)
    logged_in: bool = True


PAGES = [
    Page("login", "/login", "/login", logged_in=False),
    Page("list", "/issues", "/issues"),
    Page("detail", "/issues/1", "/issues/{number}"),
    Page("posts", "/posts", "/posts"),
    Page("chatter", "/posts?status=chatter", "/posts"),
    Page("stats", "/stats", "/stats"),
    Page("status", "/status", "/status"),
    Page("chat", "/chat?group=新联村说事群&as=张大爷", "/chat"),
    Page("error", "/issues/99999", None),
    Page("canned", "/canned", "/canned"),
    Page("qrcode", "/qrcode", "/qrcode"),
    Page("report", "/s/新联村", "/s/{village}", logged_in=False),
    # A villager's tracking page, as the report form leaves them on it (see `report_url`).
    Page("track", "", "/s/t/{token}", logged_in=False),
]
# GET routes that are not pages a person reads, and why.
NOT_PAGES = {
    "/": "sends on to /issues or /chat",
    "/chat/feed": "the chat page's refreshed part, inside /chat",
    "/export.xlsx": "a file",
    "/export.csv": "a file",
    "/issues/{number}/attachments/{index}": "a file",
    "/healthz": "for monitors",
    "/readyz": "for monitors",
    "/api/docs": "Swagger UI, for programmers",
    "/qrcode/{village_id}/poster.{fmt}": "a file to print",
}


@sqlite_only
def test_every_page_is_listed(web: FastAPI) -> None:
    """A new page of the admin fails here until it is in PAGES (or NOT_PAGES, with why)."""
    found = {
        path
        for method, path, _ in routes(web)
        if method == "GET" and not path.startswith(("/api/", "/open311/"))
    }
    listed = {p.route for p in PAGES if p.route} | set(NOT_PAGES)
    assert found - listed == set(), "pages missing from PAGES"


# --- the site --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The admin over a demo grid with three matters and two kept posts, on a loopback port."""
    folder = tmp_path_factory.mktemp("phone")
    url = f"sqlite:///{folder / 'site.db'}"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        grid_file=DEMO_GRID,
        database_url=url,
        data_dir=folder,
        admin_secret="test-secret",
    )
    app = build(settings, clock=FakeClock(START), database_url=url)
    _seed(app)
    port = _free_port()
    config = uvicorn.Config(create_app(app), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    app.engine.dispose()


def _seed(app: App) -> None:
    with Session(app.engine) as session:
        for person in session.exec(select(Person).where(col(Person.name).in_(("李书记",)))):
            session.add(
                AdminLogin(person_id=person.id or 0, password_hash=_hash(), set_at=app.clock.now())
            )
        for i, (name, text, status) in enumerate(
            [
                ("王婶", "三组有根电线杆歪了，怕倒下来", "unsure"),
                ("老周", "今天天气真好啊大家吃了没", "chatter"),
            ]
        ):
            session.add(
                Inbound(
                    platform="local",
                    chat="新联村说事群",
                    message_id=f"seed{i}",
                    sender=f"local:{name}",
                    sender_name=name,
                    text=text,
                    received_at=app.clock.now(),
                    status=status,
                )
            )
        session.commit()
    lines = (
        "张大爷: 村口路灯坏了好几天了，晚上黑乎乎的，电话13812345678\n"
        "李大妈: #邻里事 隔壁老刘家的水往我家院子里排\n"
        "张姐 re#1: 认领\n"
        "@in 石桥村说事群\n老赵: 石桥村的水渠堵了，田里灌不上水"
    )
    # In a thread of its own: Playwright's sync API may keep an event loop running in this one.
    worker = threading.Thread(target=Chat(app).say, args=(lines,))
    worker.start()
    worker.join()


@pytest.fixture(scope="module")
def login_state(browser: Any, site: str) -> Any:  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site}/login")
    page.fill("input[name=name]", "李书记")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture(scope="module")
def report_url(browser: Any, site: str) -> str:  # noqa: F811
    """A villager's report sent through the form: the tracking page it leads to."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site}/s/新联村")
    page.fill("textarea[name=text]", "东头的桥栏杆断了，孩子上学危险")
    page.locator("form button[type=submit], form button:not([type])").last.click()
    page.wait_for_url("**/s/t/**")
    url = page.url.removeprefix(site)
    context.close()
    return url


@pytest.fixture
def opened(
    browser: Any,  # noqa: F811
    site: str,
    login_state: Any,
    request: pytest.FixtureRequest,
) -> Any:
    """(the page open at its viewport, the viewport's name)."""
    page_spec, size = request.param
    url = page_spec.url or request.getfixturevalue("report_url")
    context = browser.new_context(
        viewport=PHONE if size == "phone" else DESKTOP,
        storage_state=login_state if page_spec.logged_in else None,
        locale="zh-CN",
    )
    tab = context.new_page()
    tab.goto(site + url)
    tab.wait_for_load_state("load")
    # What folds away (the status page's technical details) must fit and be tappable too.
    tab.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    yield tab, size
    context.close()


def _cases(skip_desktop: bool = False) -> list[Any]:
    cases = []
    for spec in PAGES:
        for size in ("phone", "desktop"):
            if skip_desktop and size == "desktop":
                continue
            cases.append(pytest.param((spec, size), id=f"{spec.name}-{size}"))
    return cases


# --- what the browser measures --------------------------------------------------------------

TARGETS_JS = """
(min) => {
  const bad = [];
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const st = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && st.visibility !== "hidden"
      && r.bottom > 0 && r.right > 0;   // the skip link waits above the page until focused
  };
  // WCAG's inline exception: a link inside a sentence is as big as the sentence's text.
  const inSentence = (el) => el.tagName === "A" && [...el.parentElement.childNodes].some(
    (n) => n !== el && n.nodeType === 3 && n.textContent.trim().length > 0);
  const sel = "a[href], button, input:not([type=hidden]), select, textarea, summary";
  for (const el of document.querySelectorAll(sel)) {
    if (!visible(el) && !(el.labels && el.labels.length)) continue;
    if (inSentence(el)) continue;
    let r = el.getBoundingClientRect();
    let w = r.width, h = r.height;
    // A checkbox (or a field) is also tapped through its label.
    for (const label of el.labels || []) {
      const b = label.getBoundingClientRect();
      if (b.width * b.height > w * h) { w = b.width; h = b.height; }
    }
    if (w === 0 && h === 0) continue;   // not shown at all
    if (w + 0.5 < min || h + 0.5 < min) {
      const name = (el.innerText || el.value || el.name || el.getAttribute("aria-label") || "")
        .trim().slice(0, 20);
      bad.push(`${el.tagName.toLowerCase()}「${name}」${Math.round(w)}×${Math.round(h)}`);
    }
  }
  return bad;
}
"""

TEXT_JS = """
(min) => {
  const bad = [];
  const secondary = "time, small, sup, sub, .tag, .status, svg, svg *";
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest(secondary) || el.closest("script, style")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.bottom <= 0) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    const text = el.textContent.trim().slice(0, 12);
    if (size + 0.01 < min) bad.push(`${el.tagName.toLowerCase()}「${text}」${size}px`);
  }
  return bad;
}
"""

CONTRAST_JS = """
(min) => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) =>
    [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let colour = [255, 255, 255, 1];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest("svg, script, style")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.bottom <= 0) continue;
    const bg = background(el);
    const fg = over(parse(getComputedStyle(el).color), bg);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const text = el.textContent.trim().slice(0, 12);
    const tag = el.tagName.toLowerCase();
    if (ratio + 0.005 < min) bad.push(`${tag}「${text}」${ratio.toFixed(2)}:1`);
  }
  return bad;
}
"""


@pytest.mark.parametrize("opened", _cases(), indirect=True)
def test_no_sideways_scrolling(opened: Any) -> None:
    tab, _ = opened
    width = tab.evaluate("document.documentElement.scrollWidth")
    inner = tab.evaluate("window.innerWidth")
    assert width <= inner, f"{width} px wide on a {inner} px screen"


@pytest.mark.parametrize("opened", _cases(), indirect=True)
def test_links_buttons_and_fields_are_big_enough_to_tap(opened: Any) -> None:
    tab, size = opened
    assert tab.evaluate(TARGETS_JS, MIN_TARGET[size]) == []


@pytest.mark.parametrize("opened", _cases(skip_desktop=True), indirect=True)
def test_body_text_is_at_least_16_px_on_a_phone(opened: Any) -> None:
    tab, _ = opened
    assert tab.evaluate(TEXT_JS, MIN_TEXT_PX) == []


@pytest.mark.parametrize("opened", _cases(), indirect=True)
def test_text_contrast_is_at_least_4_5(opened: Any) -> None:
    tab, _ = opened
    assert tab.evaluate(CONTRAST_JS, MIN_CONTRAST) == []


@pytest.mark.parametrize(
    "opened", [pytest.param((PAGES[5], "phone"), id="stats-phone")], indirect=True
)
def test_skip_link_navigation_and_favicon(opened: Any) -> None:
    tab, _ = opened
    tab.keyboard.press("Tab")  # the first stop: the skip link, shown when focused
    skip = tab.locator("a.skip")
    assert tab.evaluate("document.activeElement.className") == "skip"
    box = skip.bounding_box()
    assert box and box["y"] >= 0 and box["height"] >= 44
    tab.keyboard.press("Enter")
    assert tab.evaluate("document.activeElement.id") == "main"
    current = tab.locator("nav [aria-current=page]")
    assert current.count() == 1 and current.inner_text() == "统计"
    icon = tab.locator("link[rel=icon]").get_attribute("href")
    assert icon and tab.request.get(tab.url.split("/stats")[0] + icon).ok
