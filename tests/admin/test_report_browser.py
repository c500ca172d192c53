"""The 说事码's phone page in a real browser at a phone's size (390×844): fill in a report with
a photo, submit, land on the tracking page with the matter's number; nothing wider than the
screen. Chromium and the server come from test_browser.py; SQLite only."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image
from sqlmodel import Session, select

from bot.app import App
from storage.models import Issue
from tests.admin.test_browser import browser, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_report_from_a_phone_and_see_the_tracking_page(
    browser: Any,  # noqa: F811
    server: str,  # noqa: F811
    app: App,
    tmp_path: Path,
) -> None:
    photo = tmp_path / "lamp.jpg"
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 30, 30)).save(out, "JPEG")
    photo.write_bytes(out.getvalue())
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page.goto(f"{server}/s/{quote('新联村')}")
    assert "新联村" in page.inner_text("h1")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    submit = page.locator("#report-form button[type=submit]").bounding_box()
    assert submit and submit["width"] >= 300  # a button for a thumb, across the screen
    page.fill("#text", "村口的路灯坏了好几天了，晚上黑乎乎的")
    page.set_input_files("#photo", str(photo))
    page.fill("#team", "三组")
    page.fill("#name", "王大爷")
    page.fill("#phone", "13812345678")
    page.click("#report-form button[type=submit]")
    page.wait_for_url("**/s/t/*")
    assert page.inner_text("#track-number") == "#1"
    assert page.inner_text("#track-status") == "待认领"
    assert "138****5678" in page.inner_text("#track")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    with Session(app.engine) as session:
        issue = session.exec(select(Issue).where(Issue.number == 1)).one()
    assert issue.reporter_name == "王大爷" and '"photo"' in issue.attachments
    # A refused report says why, in Chinese, on the same page, with what was typed kept.
    page.goto(f"{server}/s/{quote('新联村')}")
    page.fill("#phone", "12345")
    page.fill("#text", "三组的水渠堵了")
    page.click("#report-form button[type=submit]")
    page.wait_for_selector("#report-error")
    assert "电话号码不对" in page.inner_text("#report-error")
    assert page.input_value("#text") == "三组的水渠堵了"
    page.close()
