"""The 说事码 poster (issue 19, part 1): an A4 page to print and hang in the village — its
name, a large QR code of its phone page, three lines of instructions for the elderly and the
cadres on duty. PDF (vector, for the printer) or PNG, drawn with matplotlib (Agg; no display);
the code itself by segno. `shuoshi qrcode` and the admin's 说事码 page both make it here.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import segno
from sqlmodel import Session

from handlers import texts
from scheduler.chart import cjk_family  # the digest chart's CJK font finder, one for both
from storage import people, reports
from storage.models import Role

A4_INCHES = (8.27, 11.69)
PNG_DPI = 200  # 1654 × 2338 px: a module of the code is about 20 px, sharp when printed
FORMATS = ("pdf", "png")


@dataclass(frozen=True)
class Poster:
    village: str
    group: str
    url: str
    duty: list[str]  # the cadres' names on duty, in grid order


def report_url(base: str, village: str, group: str = "") -> str:
    """The phone page of a village's 说事码 (and of one of its groups)."""
    url = f"{base.rstrip('/')}/s/{quote(village, safe='')}"
    return url + (f"?g={quote(group, safe='')}" if group else "")


def poster_of(session: Session, base: str, village_name: str, group: str = "") -> Poster | None:
    """The poster of an active village (and group), or None when there is no such one."""
    village = people.village_by_name(session=session, name=village_name)
    if village is None or village.id is None:
        return None
    if group and reports.group_named(session=session, village_id=village.id, name=group) is None:
        return None
    everyone = people.village_people(session=session, village_id=village.id)
    # On duty: the 书记 and whoever takes matters (kinds), in grid order; the group's own pool
    # first when the poster is for one group.
    duty = [p for p in everyone if p.role == Role.SECRETARY or p.kind_list()]
    if group:
        chat_group = reports.group_named(session=session, village_id=village.id, name=group)
        pool = people.group_pool(session=session, group_id=chat_group.id or 0) if chat_group else []
        if pool:
            duty = [p for p in everyone if p.role == Role.SECRETARY] + pool
    names = list(dict.fromkeys(p.name for p in duty))
    return Poster(village.name, group, report_url(base, village.name, group), names)


def render(poster: Poster, fmt: str) -> bytes:
    """The poster as a PDF or PNG file's bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"poster format must be one of {FORMATS}, not {fmt!r}")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

    family = cjk_family()
    font: dict[str, Any] = {"family": family} if family else {}
    fig = Figure(figsize=A4_INCHES)
    FigureCanvasAgg(fig)
    fig.text(0.5, 0.92, texts.QR_POSTER_TITLE.format(village=poster.village), ha="center",
             va="center", fontsize=44, weight="bold", **font)  # fmt: skip
    if poster.group:
        fig.text(0.5, 0.875, texts.QR_POSTER_GROUP.format(group=poster.group), ha="center",
                 va="center", fontsize=20, **font)  # fmt: skip
    # The code: one square per dark module, as vectors (sharp at any size), on a white quiet
    # zone of 4 modules; 0.6 of the page's width, about 12.5 cm.
    qr = segno.make(poster.url, error="m")
    rows = [list(row) for row in qr.matrix_iter(scale=1, border=4)]
    n = len(rows)
    size, left, bottom = 0.6, 0.2, 0.37
    height = size * A4_INCHES[0] / A4_INCHES[1]  # square on the page
    ax = fig.add_axes((left, bottom, size, height))
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    ax.set_axis_off()
    squares = [
        [(x, y), (x + 1, y), (x + 1, y + 1), (x, y + 1)]
        for y, row in enumerate(rows)
        for x, dark in enumerate(row)
        if dark
    ]
    ax.add_collection(
        PolyCollection(squares, facecolors="black", edgecolors="black", linewidths=0.3)
    )
    fig.text(0.5, bottom - 0.012, poster.url, ha="center", va="top", fontsize=9, color="#444")
    for i, line in enumerate(texts.QR_POSTER_STEPS):
        fig.text(0.1, 0.31 - i * 0.045, line, ha="left", va="center", fontsize=20, **font)
    if poster.duty:
        duty = texts.QR_POSTER_DUTY.format(names="、".join(poster.duty))
        fig.text(0.5, 0.13, duty, ha="center", va="center", fontsize=18, **font)
    out = io.BytesIO()
    with warnings.catch_warnings():
        # Without a CJK font every missing glyph warns; the boxes are the fallback (the code
        # itself, what matters, needs no font).
        warnings.simplefilter("ignore")
        fig.savefig(out, format=fmt, dpi=PNG_DPI, facecolor="white")
    return out.getvalue()
