"""台账导出: the current filter as .xlsx (admin/xlsx.py: streamed while the rows are read, so
memory does not grow with the row count) or as .csv (UTF-8 with BOM, so Excel reads the
Chinese), one row per issue, numbers masked, newest first like the list. A row the viewer may
not read (handlers.privacy.sees_text) is the stub: no text, reporter, result or rating."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlmodel import Session
from starlette.responses import StreamingResponse

from admin import xlsx
from admin.labels import LEVEL, STATUS
from handlers import votes
from handlers.privacy import mask
from handlers.texts import VISIT_TODO_ITEM_DUE, VOTE_EVENT_RESULT, when
from storage import visits as visit_rows
from storage import votes as vote_rows
from storage.issues import IssueFilter, days_late, iter_issues

if TYPE_CHECKING:
    from handlers.deps import Deps
    from ports.runtime import Runtime

    App = Runtime[Deps]

SHEET = "台账"
# (header, column width); `values` gives a row in this order.
COLUMNS: list[tuple[str, float]] = [
    ("编号", 8),
    ("类别", 8),
    ("村", 10),
    ("群", 16),
    ("内容", 48),
    ("反映人", 10),
    ("负责人", 10),
    ("状态", 8),
    ("登记时间", 17),
    ("限期", 17),
    ("办结时间", 17),
    ("超期天数", 9),
    ("办理结果", 32),
    ("评价", 9),
    ("办结层级", 9),
    ("反映人数", 9),
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HIDDEN = "（内容不公开）"
Reads = Callable[[Any], bool]


_DIGIT = re.compile(r"\d")


def _masked(text: str) -> str:
    """privacy.mask, skipped for the many texts without a digit (this runs for every row)."""
    return mask(text) if _DIGIT.search(text) else text


def values(row: Any, now: datetime, readable: bool = True) -> list[Any]:
    """One ledger row. Times stay as read (aware); the writers show them in local time."""
    return [
        row.number,
        row.kind,
        row.village_name or "",
        row.group_name or "私聊",
        _masked(row.text) if readable else HIDDEN,
        row.reporter_name if readable else "",
        row.owner_name or "",
        STATUS.get(row.status, row.status),
        row.created_at,
        row.due_at,
        row.closed_at,
        days_late(row.due_at, row.status, now) or None,
        _masked(row.result or "") if readable else "",
        (row.rating or "") if readable else "",
        LEVEL.get(row.settled_level or "", ""),
        row.reports,
    ]


def filename(now: datetime, suffix: str) -> tuple[str, str]:
    """(the Chinese name, an ASCII fallback)."""
    stamp = f"{now:%Y%m%d-%H%M}"
    return f"说事台账-{stamp}.{suffix}", f"shuoshi-ledger-{stamp}.{suffix}"


def disposition(now: datetime, suffix: str) -> str:
    name, fallback = filename(now, suffix)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


def _everything(row: Any) -> bool:
    return True


def _rows(app: App, f: IssueFilter, reads: Reads) -> Iterator[list[Any]]:
    """Ledger rows as the database hands them over (a server-side cursor where there is one)."""
    now = app.clock.now()
    with Session(app.engine) as session:
        voted, visited = votes_and_visits(session, app.clock.tz)
        for row in iter_issues(session=session, f=f, now=now):
            readable = reads(row)
            yield [
                *values(row, now, readable),
                voted.get(row.id, "") if readable else "",
                _masked(visited.get(row.id, "")) if readable else "",
            ]


def xlsx_chunks(app: App, f: IssueFilter, reads: Reads = _everything) -> Iterator[bytes]:
    return xlsx.stream(SHEET, COLUMNS, _rows(app, f, reads), tz=app.clock.tz)


def xlsx_response(app: App, f: IssueFilter, reads: Reads) -> StreamingResponse:
    return StreamingResponse(
        xlsx_chunks(app, f, reads),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": disposition(app.clock.now(), "xlsx")},
    )


def _csv_text(value: Any, tz: Any) -> Any:
    if isinstance(value, datetime):
        return f"{value.astimezone(tz):%Y-%m-%d %H:%M}"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_rows(
    app: App, f: IssueFilter, reads: Reads = _everything, batch: int = 500
) -> Iterator[bytes]:
    """The CSV as it is read from the database, a few hundred rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([title for title, _ in COLUMNS])
    tz = app.clock.tz
    for n, row in enumerate(_rows(app, f, reads), 1):
        writer.writerow([_csv_text(v, tz) for v in row])
        if n % batch == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def csv_response(app: App, f: IssueFilter, reads: Reads) -> StreamingResponse:
    return StreamingResponse(
        csv_rows(app, f, reads),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition(app.clock.now(), "csv")},
    )


# --- 议事 and 回访 (issue 19): two columns after the others --------------------------------------
COLUMNS += [("议事结果", 40), ("回访", 40)]


def votes_and_visits(session: Session, tz: Any) -> tuple[dict[int, str], dict[int, str]]:
    """Each issue's vote results and visits as the ledger shows them, read once per export
    (votes and visits are few: a handful per village and year)."""
    voted: dict[int, list[str]] = {}
    for vote in vote_rows.closed_votes(session=session):
        items, turnout = votes.result_lines(vote, json.loads(vote.result or "{}"))
        voters = json.loads(vote.result or "{}").get("voters", 0)
        line = f"{vote.question}：{items}；" + VOTE_EVENT_RESULT.format(
            items="", voters=voters, turnout=turnout
        ).removeprefix("；")
        voted.setdefault(vote.issue_id, []).append(line)
    visited: dict[int, list[str]] = {}
    for visit in visit_rows.all_visits(session=session):
        if visit.done_at is not None:
            line = f"{when(visit.done_at, tz)} {visit.done_by or ''}：{visit.note or ''}"
        else:
            line = VISIT_TODO_ITEM_DUE.format(due=when(visit.due_at, tz))
        visited.setdefault(visit.issue_id, []).append(line)
    return (
        {k: "\n".join(v) for k, v in voted.items()},
        {k: "\n".join(v) for k, v in visited.items()},
    )
