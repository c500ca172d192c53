"""The 统计 page's charts in a real browser (Chromium, as tests/admin/test_browser.py drives
it), on a phone (390×844) and on a desktop: every label lies inside its chart, nothing is cut
at an edge ("100%（2件）" was), and on the phone every text is at least 12 px."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bot.app import App
from tests.admin.conftest import PASSWORD
from tests.admin.test_browser import browser, server  # noqa: F401  (fixtures)
from tests.conftest import Chat

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

# Every chart's texts: where they are drawn, and how tall on the screen.
MEASURE = """() => [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  const scale = box.width / svg.viewBox.baseVal.width;
  return {
    title: svg.querySelector('title').textContent,
    texts: [...svg.querySelectorAll(':scope > text')].map(t => {
      const r = t.getBoundingClientRect();
      return {text: t.textContent, left: r.left - box.left, right: r.right - box.left,
              top: r.top - box.top, bottom: r.bottom - box.top,
              px: parseFloat(t.getAttribute('font-size')) * scale};
    }),
    width: box.width, height: box.height,
  };
})"""


def _seed(chat: Chat) -> None:
    """Two matters closed at 组 level (the 办结层级 chart reads 100%（2件）), one open in
    石桥村. In a thread of its own: Playwright's sync API keeps an event loop in this one."""
    lines = (
        "张大爷: 村口路灯坏了好几天了，晚上黑乎乎的\n"
        "李大妈: #邻里事 隔壁老刘家的水往我家院子里排\n"
        "张姐: 办结 1 已换新灯泡\n"
        "王哥: 办结 2 已经调解好了\n"
        "@in 石桥村说事群\n老赵: 石桥村的水渠堵了，田里灌不上水"
    )
    worker = threading.Thread(target=chat.say, args=(lines,))
    worker.start()
    worker.join()


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_chart_labels_fit_and_are_readable(
    browser: Any,  # noqa: F811
    server: str,  # noqa: F811
    chat: Chat,
    app: App,
    width: int,
    height: int,
) -> None:
    _seed(chat)
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{server}/login")
    page.fill("input[name=name]", "陈镇长")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/issues")
    page.goto(f"{server}/stats?weeks=8")
    charts = page.evaluate(MEASURE)
    titles = {c["title"] for c in charts}
    assert titles == {"每周登记与办结", "各村办结率", "按类别登记数", "办结层级"}
    texts = [t["text"] for c in charts for t in c["texts"]]
    # The levels chart: both closed at 组 level.
    assert any("100%" in t and "2件" in t for t in texts)
    for chart in charts:
        for t in chart["texts"]:
            where = f"{chart['title']}: {t['text']} at {width}px"
            assert t["left"] >= -0.5 and t["right"] <= chart["width"] + 0.5, where
            assert t["top"] >= -0.5 and t["bottom"] <= chart["height"] + 0.5, where
            if width <= 390:
                assert t["px"] >= 12, where
    context.close()
