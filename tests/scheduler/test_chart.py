"""The digest chart on a phone and on paper: every text at least 12 px when the picture fills a
390 px screen, and every text inside the picture (nothing cut at its edges)."""

from __future__ import annotations

import warnings
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from matplotlib.text import Text

from scheduler import chart, digest

WEEK = digest.Week.parse("2026-W48", ZoneInfo("Asia/Shanghai"))


def texts_of(fig: Any) -> list[Text]:
    fig.canvas.draw()
    return [
        t
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_figure() is not None
    ]


def village(name: str, new: int, closed: int, overdue: int) -> digest.Figures:
    return digest.Figures(name, WEEK, new=new, closed=closed, open=overdue, overdue=overdue)


@pytest.mark.parametrize("villages", [2, 12])
def test_chart_text_is_large_enough_and_inside(villages: int) -> None:
    names = ["石桥村委会第十二组", "新联村"]
    figures = [village(names[i % 2], 100 + i, 99, i) for i in range(villages)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no CJK font on this machine: boxes
        fig = chart.draw(
            title="青石镇 第48周",
            labels=[f.place for f in figures],
            series={"新增": [f.new for f in figures], "办结": [f.closed for f in figures]},
        )
        found = texts_of(fig)
        width, height = fig.bbox.width, fig.bbox.height
        assert width == chart.WIDTH_IN * chart.DPI  # more villages: taller, never wider
        renderer = fig.canvas.get_renderer()
        shown = {t.get_text() for t in found}
        assert {"青石镇 第48周", "新增", "办结", "石桥村委会第十二组", "100", "99"} <= shown
        for t in found:
            assert chart.text_px_on_phone(t.get_fontsize()) >= 12, t.get_text()
            box = t.get_window_extent(renderer)
            assert box.x0 >= 0 and box.y0 >= 0, t.get_text()
            assert box.x1 <= width and box.y1 <= height, t.get_text()


def test_village_chart_shows_every_kind(tmp_path: Any) -> None:
    f = village("新联村", 6, 3, 1)
    f.by_kind = {
        "村里事": {"new": 3, "closed": 1, "open": 1},
        "邻里事": {"new": 2, "closed": 2, "open": 0},
        "户里事": {"new": 1, "closed": 0, "open": 1},
    }
    path = chart.village_chart(f, tmp_path / "v.png")
    assert path.read_bytes().startswith(b"\x89PNG")
