"""The issue list and one issue in a real browser (Chromium through Playwright, as
tests/admin/test_browser.py), on a phone (390×844) and a desktop (1280×800): nothing wider than
the screen, every tap target at least 44×44 px, the whole card opens its issue, the filters
fold behind 筛选, no empty fields, 认领 in the row, bulk actions, a closed issue's actions."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app import App
from tests.admin.conftest import PASSWORD, events, issue
from tests.admin.test_browser import _seed, browser, server  # noqa: F401 (fixtures)
from tests.conftest import Chat

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def logged_in_page(browser: Any, server: str, name: str, viewport: dict[str, int]) -> Any:  # noqa: F811
    page = browser.new_page(viewport=viewport, locale="zh-CN")
    page.goto(f"{server}/login?next=/issues")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/issues")
    return page


def fits(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def big_enough(locator: Any) -> None:
    box = locator.bounding_box()
    assert box is not None, "not shown"
    assert box["width"] >= 44 and box["height"] >= 44, box


def test_the_list_on_a_phone(browser: Any, server: str, chat: Chat, app: App) -> None:  # noqa: F811
    _seed(chat)  # #1 路灯 (张姐's), #2 邻里事 (王哥's), #3 石桥村
    page = logged_in_page(browser, server, "张姐", PHONE)
    fits(page, 390)
    assert "我的待办" in page.inner_text("#counts")
    cards = page.locator("table.list tbody tr")
    assert cards.count() == 1 and "#1" in cards.first.inner_text()

    # The filters are folded behind one 筛选 button.
    assert not page.locator("#filters").is_visible()
    big_enough(page.locator("#filters-toggle"))
    page.click("#filters-toggle")
    assert page.locator("#filters").is_visible()
    big_enough(page.locator("#overdue-check"))
    for link in ("#export-xlsx", "#export-csv"):
        big_enough(page.locator(link))
    fits(page, 390)

    # No empty fields on a card: every shown line has something after its label.
    for cell in cards.first.locator("td").all():
        if cell.is_visible():
            assert cell.inner_text().strip(), cell.get_attribute("data-label")
    assert "剩余 " in cards.first.inner_text()

    # 认领 in the row, then the whole card (not just "#1") opens the issue.
    claim = cards.first.locator("button.claim")
    big_enough(claim)
    claim.click()
    page.wait_for_selector("text=已由张姐认领")
    assert issue(app, 1).status == "claimed" and ("claimed", "张姐", "") in events(app, 1)
    card = page.locator("table.list tbody tr").first
    big_enough(card)
    box = card.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] - 20, box["y"] + box["height"] - 12)
    page.wait_for_url(f"{server}/issues/1")
    fits(page, 390)
    page.close()


def test_a_closed_issue_on_a_phone(browser: Any, server: str, chat: Chat, app: App) -> None:  # noqa: F811
    _seed(chat)
    page = logged_in_page(browser, server, "李书记", PHONE)
    page.goto(f"{server}/issues/1")
    fits(page, 390)
    for button in page.locator("#actions button").all():
        big_enough(button)
    page.fill("#close textarea[name=result]", "已换新灯泡")
    page.click("#close button")
    page.wait_for_selector("text=已办结")
    actions = page.locator("#actions")
    assert actions.locator("form[action$='/reopen']").is_visible()
    for gone in ("assign", "due", "kind", "close", "claim"):
        assert actions.locator(f"form[action$='/{gone}']").count() == 0, gone
    page.fill("#reopen input[name=reason]", "灯又不亮了")
    page.click("#reopen button")
    page.wait_for_selector("text=重新办理")
    assert issue(app, 1).status == "open" and issue(app, 1).result is None
    fits(page, 390)
    page.close()


def test_bulk_actions_on_a_desktop(browser: Any, server: str, chat: Chat, app: App) -> None:  # noqa: F811
    _seed(chat)
    page = logged_in_page(browser, server, "李书记", DESKTOP)
    fits(page, 1280)
    assert page.locator("#filters").is_visible()  # unfolded where there is room
    assert not page.locator("#filters-toggle").is_visible()
    for number in ("1", "2"):
        page.check(f"input[name=numbers][value='{number}']")
    page.click("#bulk-box summary")
    page.select_option("#bulk select[name=person]", label="王哥（网格员）")
    page.click("#bulk button[value=assign]")
    page.wait_for_selector("text=已办 2 件")
    assert events(app, 1)[-1] == ("assigned", "李书记", "王哥")
    assert events(app, 2)[-1] == ("assigned", "李书记", "王哥")
    page.set_viewport_size(PHONE)  # the same list on a phone: still no sideways scrolling
    fits(page, 390)
    page.close()
