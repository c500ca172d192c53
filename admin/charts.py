"""Charts of the 统计 page as inline SVG, drawn on the server: no script, no CDN, and the
browser's own fonts render the Chinese labels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from admin.labels import LEVEL
from storage.figures import Stats
from storage.models import KINDS

NEW, CLOSED, RATE = "#3466b8", "#2b8a54", "#b35c00"
TEXT = "#222"

# Drawn for a phone first: the page shows a chart across the screen (about 340 px of a 390 px
# phone inside the page's margins), so a chart is 340 units wide and its smallest text 13
# units, at least 12 px there. On a wide screen it grows to at most MAX_SHOWN px, never more,
# so the text stays a reading size. Labels are laid out from their estimated widths so that
# none runs past the edge ("100%（2件）" was cut at the right).
WIDTH = 340
FONT = 13
MAX_SHOWN = 480


_WIDE = frozenset("%@MWmw")


def text_width(value: str, size: float = FONT) -> float:
    """About how wide `value` is drawn, a little more than common fonts need: a Chinese
    (full-width) character, "%" and the widest letters 1 em, other ASCII 0.65 em."""
    return sum(size * (0.65 if ord(c) < 0x2E80 and c not in _WIDE else 1.0) for c in value)


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'style="max-width:{MAX_SHOWN}px" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, value: Any, *, anchor: str = "middle", size: int = FONT) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{TEXT}">{escape(str(value))}</text>'
    )


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    out = []
    for label, color in items:
        out.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="11" height="11" fill="{color}"/>')
        out.append(_text(x + 15, y, label, anchor="start"))
        x += 15 + text_width(label) + 14
    return out


def weekly(s: Stats, tz: Any) -> Markup:
    """New and closed matters per week, bars side by side, with the weekly 办结率 on top where
    there is room for it (each bar's <title> has its count)."""
    weeks = len(s.weeks)
    peak = max([1] + [max(f.new, f.closed) for f in s.by_week.values()])
    left = text_width(str(peak)) + 8
    width, height, bottom, top = WIDTH, 250, 22, 62
    slot = (width - left - 4) / max(1, weeks)
    bar = max(1.5, slot * 0.38)
    scale = (height - bottom - top) / peak
    rate_fits = slot >= text_width("100%") + 2
    label_every = max(1, math.ceil((text_width("00-00") + 6) / slot))
    body = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 4}" '
        f'y2="{height - bottom}" stroke="#777"/>'
    ]
    body.append(_text(left - 4, top + 5, peak, anchor="end"))
    body.append(_text(left - 4, height - bottom, 0, anchor="end"))
    for i, start in enumerate(s.weeks):
        fig = s.by_week.get(i)
        x = left + i * slot + (slot - 2 * bar) / 2
        for j, (value, color) in enumerate(
            ((fig.new if fig else 0, NEW), (fig.closed if fig else 0, CLOSED))
        ):
            h = value * scale
            body.append(
                f'<rect x="{x + j * bar:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{value}</title></rect>'
            )
        if i % label_every == 0:
            label = start.astimezone(tz).strftime("%m-%d")
            # The first and last labels keep inside the edges.
            cx = min(max(x + bar, left + text_width(label) / 2), width - text_width(label) / 2)
            body.append(_text(cx, height - bottom + 16, label))
        if rate_fits and fig is not None and fig.closure_rate is not None:
            y = height - bottom - max(fig.new, fig.closed) * scale - 4
            body.append(_text(x + bar, y, f"{fig.closure_rate * 100:.0f}%"))
    body += _legend([("登记", NEW), ("办结", CLOSED)], 0, 16)
    if rate_fits:
        body.append(_text(0, 38, "柱上百分比：该周登记事项的办结率", anchor="start"))
    return _svg(width, height, body, "每周登记与办结")


def _hbars(
    rows: Sequence[tuple[str, float, str]], title: str, *, percent: bool, color: str
) -> Markup:
    """One bar per row, its label on the left and its value (and note) after the bar; the
    columns are as wide as their longest text, the bars take what is left."""
    shown = [
        (label, value, f"{value * 100:.0f}%{note}" if percent else f"{value:.0f}{note}")
        for label, value, note in rows
    ]
    width, row_h = WIDTH, 30
    left = max([0.0] + [text_width(label) for label, _, _ in shown]) + 8
    right = max([0.0] + [text_width(text) for _, _, text in shown]) + 6
    height = 10 + row_h * max(1, len(rows))
    peak = 1.0 if percent else max([1.0] + [v for _, v, _ in shown])
    span = max(20.0, width - left - right)
    body = []
    for i, (label, value, text) in enumerate(shown):
        y = 5 + i * row_h
        w = span * (value / peak if peak else 0)
        body.append(_text(left - 6, y + 19, label, anchor="end"))
        body.append(
            f'<rect x="{left:.1f}" y="{y + 5}" width="{w:.1f}" height="{row_h - 10}" '
            f'fill="{color}"/>'
        )
        body.append(_text(left + w + 5, y + 19, text, anchor="start"))
    return _svg(width, height, body, title)


def villages(s: Stats, village_list: Sequence[Any]) -> Markup:
    """Each village's 办结率 over the period, with how many it registered."""
    rows = []
    for v in village_list:
        fig = s.by_village.get(v.id or 0)
        rate = fig.closure_rate if fig else None
        rows.append((v.name, rate or 0.0, f"（登记{fig.new if fig else 0}件）"))
    return _hbars(rows, "各村办结率", percent=True, color=CLOSED)


def kinds(s: Stats) -> Markup:
    rows = [(k.value, float(s.by_kind[k].new) if k in s.by_kind else 0.0, "") for k in KINDS]
    return _hbars(rows, "按类别登记数", percent=False, color=NEW)


def levels(s: Stats) -> Markup:
    total = sum(s.total.levels.values())
    rows = [
        (
            f"{LEVEL[key]}级",
            (s.total.levels.get(key, 0) / total) if total else 0.0,
            f"（{s.total.levels.get(key, 0)}件）",
        )
        for key in ("group", "village", "town")
    ]
    return _hbars(rows, "办结层级", percent=True, color=RATE)
