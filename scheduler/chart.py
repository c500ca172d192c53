"""The digest chart: a PNG of grouped bars (matplotlib, Agg, no display needed).

Chinese labels need a CJK font on the machine (Debian: fonts-noto-cjk or fonts-wqy-microhei);
without one the chart is still drawn, with boxes for the characters, and a warning is logged.
"""

from __future__ import annotations

import logging
import warnings
from functools import cache
from pathlib import Path

from handlers import texts
from scheduler.digest import Figures

log = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
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


@cache
def cjk_family() -> str | None:
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
                return font_manager.FontProperties(fname=path).get_name()
            except Exception:  # an unreadable font file: try the next
                continue
    log.warning("no CJK font found: digest charts will show boxes (install fonts-noto-cjk)")
    return None


def bar_chart(path: Path, *, title: str, labels: list[str], series: dict[str, list[int]]) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    family = cjk_family()
    font = {"family": family} if family else {}
    with warnings.catch_warnings():
        # Without a CJK font matplotlib warns for every missing glyph; the boxes are the fallback.
        warnings.simplefilter("ignore", UserWarning)
        fig = Figure(figsize=(max(4.0, 1.2 * len(labels) + 2), 3.6), dpi=110)
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        width = 0.8 / max(1, len(series))
        for n, (name, values) in enumerate(series.items()):
            xs = [i + (n - (len(series) - 1) / 2) * width for i in range(len(labels))]
            bars = ax.bar(xs, values, width, label=name)
            ax.bar_label(bars, fontsize=8)
        ax.set_xticks(range(len(labels)), labels, fontdict=font)
        ax.set_ylabel(texts.CHART_COUNT, fontdict=font)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # matters come whole
        ax.set_title(title, fontdict=font)
        ax.legend(prop={**font, "size": 8})
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
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
