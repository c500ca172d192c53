"""Charts of the 统计 page as inline SVG, drawn on the server: no script, no CDN, and the
browser's own fonts render the Chinese labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from admin.labels import LEVEL
from storage.figures import Stats
from storage.models import KINDS

NEW, CLOSED, RATE = "#4a7bd0", "#3fa66b", "#e0892f"


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, value: Any, *, anchor: str = "middle", size: int = 13) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="#333">{escape(str(value))}</text>'
    )


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    out = []
    for i, (label, color) in enumerate(items):
        dx = x + i * 90
        out.append(f'<rect x="{dx:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{color}"/>')
        out.append(_text(dx + 14, y, label, anchor="start"))
    return out


def weekly(s: Stats, tz: Any) -> Markup:
    """New and closed matters per week, bars side by side, with the weekly 办结率 on top."""
    width, height, left, bottom, top = 640, 240, 36, 40, 28
    weeks = len(s.weeks)
    peak = max([1] + [max(f.new, f.closed) for f in s.by_week.values()])
    slot = (width - left - 10) / max(1, weeks)
    bar = max(2.0, slot * 0.35)
    scale = (height - bottom - top) / peak
    body = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" '
        f'y2="{height - bottom}" stroke="#999"/>'
    ]
    body.append(_text(left - 4, top + 4, peak, anchor="end", size=12))
    body.append(_text(left - 4, height - bottom, 0, anchor="end", size=12))
    for i, start in enumerate(s.weeks):
        fig = s.by_week.get(i)
        x = left + i * slot + slot * 0.12
        for j, (value, color) in enumerate(
            ((fig.new if fig else 0, NEW), (fig.closed if fig else 0, CLOSED))
        ):
            h = value * scale
            body.append(
                f'<rect x="{x + j * bar:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{value}</title></rect>'
            )
        if weeks <= 26 or i % 4 == 0:
            body.append(
                _text(
                    x + bar, height - bottom + 14, start.astimezone(tz).strftime("%m-%d"), size=10
                )
            )
        if fig is not None and fig.closure_rate is not None and weeks <= 13:
            y = height - bottom - max(fig.new, fig.closed) * scale - 4
            body.append(_text(x + bar, y, f"{fig.closure_rate * 100:.0f}%", size=11))
    body += _legend([("登记", NEW), ("办结", CLOSED)], left, 14)
    body.append(_text(width - 10, 14, "柱上百分比：该周登记事项的办结率", anchor="end", size=12))
    return _svg(width, height, body, "每周登记与办结")


def _hbars(
    rows: Sequence[tuple[str, float, str]], title: str, *, percent: bool, color: str
) -> Markup:
    width, row_h, left = 640, 30, 110
    height = 20 + row_h * max(1, len(rows))
    peak = 1.0 if percent else max([1.0] + [v for _, v, _ in rows])
    span = width - left - 70
    body = []
    for i, (label, value, note) in enumerate(rows):
        y = 10 + i * row_h
        w = span * (value / peak if peak else 0)
        body.append(_text(left - 6, y + 15, label, anchor="end"))
        body.append(
            f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{color}"/>'
        )
        shown = f"{value * 100:.0f}%" if percent else f"{value:.0f}"
        body.append(_text(left + w + 6, y + 15, f"{shown} {note}".strip(), anchor="start"))
    return _svg(width, height, body, title)


def villages(s: Stats, village_list: Sequence[Any]) -> Markup:
    """Each village's 办结率 over the period, with how many it registered."""
    rows = []
    for v in village_list:
        fig = s.by_village.get(v.id or 0)
        rate = fig.closure_rate if fig else None
        rows.append((v.name, rate or 0.0, f"（登记{fig.new if fig else 0}）"))
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
