"""The digest chart: a PNG of grouped bars (matplotlib, Agg, no display needed).

Chinese labels need a CJK font on the machine (Debian: fonts-noto-cjk or fonts-wqy-microhei);
without one the chart is still drawn, with boxes for the characters, and a warning is logged.
"""

from __future__ import annotations

import logging
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from handlers import texts
from scheduler.digest import Figures

log = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",  # fonts-noto-cjk: the first face of its .ttc, Chinese glyphs too
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "AR PL UMing CN",
)
CJK_FILE_HINTS = ("notosanscjk", "notosanssc", "sourcehansans", "wqy", "simhei", "msyh", "uming")


CJK_PACKAGE = "fonts-noto-cjk"  # the Debian package the image installs (deploy/Dockerfile)


def find_cjk_family() -> str | None:
    """The first CJK font family matplotlib can draw with, or None (`shuoshi doctor` asks)."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    # Matplotlib's font cache may predate a font installed later: look at the files themselves.
    for path in font_manager.findSystemFonts():
        if any(hint in Path(path).name.lower().replace("-", "") for hint in CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
                return str(font_manager.FontProperties(fname=path).get_name())
            except Exception:  # an unreadable font file: try the next
                continue
    return None


@cache
def cjk_family() -> str | None:
    family = find_cjk_family()
    if family is None:
        log.warning("no CJK font found: digest charts will show boxes (install %s)", CJK_PACKAGE)
    return family


# Read on a phone (the picture shown across a 390 px screen) and on paper: every text at least
# 12 px there. The picture has a fixed width, so its text keeps that size however many bars
# there are: more villages make it taller, never wider (a wider one would be shrunk to fit).
PHONE_WIDTH_PX = 390
MIN_TEXT_PX = 12
WIDTH_IN = 5.0
DPI = 120
TEXT_PT = MIN_TEXT_PX * WIDTH_IN * 72 / PHONE_WIDTH_PX  # 11.1 pt: 12 px at 390 px wide
TITLE_PT = TEXT_PT * 1.25


def text_px_on_phone(points: float) -> float:
    """How tall a text of `points` shows when the picture fills a phone's width."""
    return points * DPI / 72 * PHONE_WIDTH_PX / (WIDTH_IN * DPI)


def draw(*, title: str, labels: list[str], series: dict[str, list[int]]) -> Any:
    """The chart as a matplotlib Figure: one row per label, a bar per series, its count at the
    bar's end; labels on the left, where long Chinese names have room."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    family = cjk_family()
    font = {"family": family} if family else {}
    rows = max(1, len(labels))
    fig = Figure(
        figsize=(WIDTH_IN, 1.3 + rows * (0.26 * len(series) + 0.2)), dpi=DPI, layout="constrained"
    )
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    height = 0.8 / max(1, len(series))
    peak = max([1, *(v for values in series.values() for v in values)])
    for n, (name, values) in enumerate(series.items()):
        ys = [i + (n - (len(series) - 1) / 2) * height for i in range(len(labels))]
        bars = ax.barh(ys, values, height, label=name)
        ax.bar_label(bars, padding=3, fontsize=TEXT_PT)
    ax.set_yticks(range(len(labels)), labels, fontdict=font, fontsize=TEXT_PT)
    ax.invert_yaxis()  # the first label and series on top, as the legend reads
    ax.set_xlim(0, peak * 1.15)  # room for the count after the longest bar
    ax.xaxis.set_visible(False)  # each bar carries its count
    ax.spines[["top", "right", "bottom"]].set_visible(False)
    fig.suptitle(title, fontproperties={**font, "size": TITLE_PT})
    ax.legend(
        prop={**font, "size": TEXT_PT},
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncol=len(series),
        frameon=False,
        borderaxespad=0.2,
    )
    return fig


def bar_chart(path: Path, *, title: str, labels: list[str], series: dict[str, list[int]]) -> Path:
    with warnings.catch_warnings():
        # Without a CJK font matplotlib warns for every missing glyph; the boxes are the fallback.
        warnings.simplefilter("ignore", UserWarning)
        fig = draw(title=title, labels=labels, series=series)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    return path


def village_chart(f: Figures, path: Path) -> Path:
    kinds = list(f.by_kind)
    new, closed, still = texts.CHART_SERIES_VILLAGE
    return bar_chart(
        path,
        title=texts.CHART_TITLE.format(place=f.place, week=f.week.week),
        labels=kinds,
        series={
            new: [f.by_kind[k]["new"] for k in kinds],
            closed: [f.by_kind[k]["closed"] for k in kinds],
            still: [f.by_kind[k]["open"] for k in kinds],
        },
    )


def town_chart(figures: list[Figures], town: str, path: Path) -> Path:
    new, closed, overdue = texts.CHART_SERIES_TOWN
    week = figures[0].week.week if figures else 0
    return bar_chart(
        path,
        title=texts.CHART_TITLE.format(place=town, week=week),
        labels=[f.place for f in figures],
        series={
            new: [f.new for f in figures],
            closed: [f.closed for f in figures],
            overdue: [f.overdue for f in figures],
        },
    )
