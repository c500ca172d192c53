"""`shuoshi digest`: any week's digest on stdout, its chart to a PNG on request. Apart from
scheduler/digest.py (the figures and the texts) so that the chart, which draws those figures,
and the digest do not import each other."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from handlers import texts
from scheduler import chart
from scheduler.digest import (
    Week,
    town_figures,
    town_text,
    village_figures,
    village_text,
    votes_and_visits_text,
)
from storage import people


def print_digest(
    app: Any, *, village: str | None, town: bool, week: str | None, png: Path | None
) -> int:
    """`shuoshi digest`: the digest of any week on stdout (the chart to a PNG file on request);
    2 and a reason on stderr when the village or the week is wrong."""
    tz = app.clock.tz
    try:
        w = Week.parse(week, tz) if week else Week.of(app.clock.now().date() - timedelta(7), tz)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    with Session(app.engine) as session:
        if town:
            figures = town_figures(session, w)
            name = app.grid.town_name or texts.TOWN_DIGEST_TOTAL
            print(town_text(figures, name, w))
            if png:
                chart.town_chart(figures, name, png)
        else:
            v = people.village_by_name(session=session, name=village, active_only=False)
            if v is None:
                names = "、".join(x.name for x in people.all_villages(session=session))
                print(f"没有“{village}”这个村，可选：{names}", file=sys.stderr)
                return 2
            f = village_figures(session, v, w)
            # The same text the 书记 was sent: the figures, then the week's votes and visits.
            now = app.clock.now()
            more = votes_and_visits_text(session, village_id=v.id or 0, week=w, now=now)
            print(village_text(f) + more)
            if png:
                chart.village_chart(f, png)
    if png:
        print(f"图表：{png}")
    return 0
