"""Screenshots for docs/tour.md: the admin's pages on a phone (390×844) in Chromium.

    .venv/bin/python bench/tour.py [--out docs/img] [--chromium /usr/bin/chromium]

Builds the demo grid on a temporary SQLite database with a fake clock, lets a few villagers
speak (the same pipeline as every platform), starts the admin on a free loopback port and
takes one PNG per page, the visible screen only (small files). Nothing is downloaded."""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import uvicorn
from sqlmodel import Session, select

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from admin.app import create_app  # noqa: E402
from admin.auth import set_password  # noqa: E402
from bot.app import App, build  # noqa: E402
from bot.local import ScriptRunner  # noqa: E402
from handlers.clock import FakeClock  # noqa: E402
from ports.settings import DEMO_GRID, Settings  # noqa: E402
from scheduler.jobs import make_ticker  # noqa: E402
from storage.models import Person  # noqa: E402

PASSWORD = "tour-password-1"
START = datetime(2026, 11, 23, 9, 0)
SCRIPT = """
@in 新联村说事群
张大爷: 村口路灯坏了好几天了，晚上黑乎乎的
李大妈: #邻里事 隔壁老刘家的水往我家院子里排
王婶: 三组有根电线杆歪了，怕倒下来
张姐 re#1: 认领
@wait 1d
张姐 re#1: 办结 1 已换新灯泡
张大爷 [满意]
孙奶奶: 我一个人住，屋顶漏雨了，能不能来看看
@wait 3h
老周: 今天天气真好啊
"""
# (file, address, what to do before the picture)
SHOTS = [
    ("login.png", "/login", None),
    ("issues.png", "/issues", None),
    ("issue.png", "/issues/2", None),
    ("posts.png", "/posts", None),
    ("stats.png", "/stats", None),
    ("status.png", "/status", None),
    ("chat.png", "/chat?group=新联村说事群&as=张大爷", "end"),
]


def _site(folder: Path) -> App:
    url = f"sqlite:///{folder / 'tour.db'}"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, grid_file=DEMO_GRID, database_url=url, data_dir=folder
    )
    app = build(settings, clock=FakeClock(START), database_url=url)
    runner = ScriptRunner(app, on_tick=make_ticker(app))
    asyncio.run(runner.run_lines(SCRIPT.strip().splitlines()))
    with Session(app.engine) as session:
        person = session.exec(select(Person).where(Person.name == "李书记")).one()
        set_password(session, person, PASSWORD, app.clock.now())
        session.commit()
    return app


def _serve(app: App) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(create_app(app), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the admin did not start")
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, thread


def main() -> int:
    parser = argparse.ArgumentParser(description="给 docs/tour.md 截手机上的后台页面")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img", help="截图放在哪里")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium 的路径")
    args = parser.parse_args()
    from playwright.sync_api import ViewportSize, sync_playwright

    phone: ViewportSize = {"width": 390, "height": 844}

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = _site(Path(tmp))
        base, server, thread = _serve(app)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
                )
                context = browser.new_context(viewport=phone, locale="zh-CN")
                page = context.new_page()
                for name, path, then in SHOTS:
                    if name == "issues.png":  # log in after the log-in page's picture
                        page.fill("input[name=name]", "李书记")
                        page.fill("input[name=password]", PASSWORD)
                        page.click("button[type=submit]")
                        page.wait_for_url(lambda url: "/login" not in url)
                    page.goto(base + path)
                    if then == "end":
                        page.locator("#end").scroll_into_view_if_needed()
                    page.screenshot(path=str(args.out / name))
                    print(args.out / name)
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            app.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
