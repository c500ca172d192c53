"""JSON for programs: /api/ (issues with the list's filters, one issue with its timeline, stats)
and Open311 GeoReport v2 read endpoints, so county platforms that speak Open311 can read ours.
A program authenticates with `Authorization: Bearer TOKEN` (`shuoshi api-token NAME`; Open311
clients may send `?api_key=TOKEN`) and sees what that person sees. Texts are masked; a 邻里事 or
户里事 the person may not read (handlers.privacy.sees_text) comes as its stub, and Open311,
which anyone holding any token may read, never carries the text of those kinds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel
from sqlmodel import Session

from admin.auth import Viewer, token_viewer
from admin.labels import EVENT, STATUS
from admin.pages import WEEK_CHOICES, may_see_full, stats_period, visible_issue
from admin.web import (
    FIRST_DAY,
    LAST_DAY,
    MAX_ID,
    MAX_PAGE,
    ApiViewer,
    AppDep,
    SessionDep,
    get_app,
    optional_viewer,
    page_args,
    read_filter,
    reads,
)
from handlers.privacy import mask, short
from storage import figures, issues, people, records
from storage.models import ChatGroup, Kind, Person, Status, Village

router = APIRouter(prefix="/api", tags=["事项"])


class IssueItem(BaseModel):
    number: int
    kind: str
    village: str
    group: str | None
    hidden: bool  # a stub: the viewer may not read its words (summary, text, result are empty)
    summary: str  # the first words, numbers masked
    owner: str | None
    status: str
    status_name: str
    created_at: datetime
    due_at: datetime
    closed_at: datetime | None
    days_late: int
    rating: str | None
    settled_level: str | None
    reports: int


class IssuePage(BaseModel):
    total: int
    total_capped: bool  # more than `total` match (words and dates are counted up to a limit)
    page: int
    per_page: int
    counts: dict[str, int]
    overdue: int
    items: list[IssueItem]


class EventItem(BaseModel):
    kind: str
    kind_name: str
    actor: str
    at: datetime
    detail: str


class IssueDetail(IssueItem):
    text: str  # masked unless the viewer is the owner, the village 书记 or a 镇领导; "" if hidden
    reporter_name: str
    result: str | None
    timeline: list[EventItem]
    duplicate_reports: list[EventItem]


class FigureItem(BaseModel):
    new: int
    closed: int
    closure_rate: float | None  # 办结率 (storage.figures.closure_rate): of those registered in
    # the period, less those withdrawn, the share closed by its end
    on_time_rate: float | None  # of those closed in the period, the share closed by the due time
    satisfaction: float | None  # (满意 + 基本满意) / rated
    rated: int
    levels: dict[str, int]  # group / village / town: where closed ones were settled
    open_now: int
    overdue_now: int


class StatsOut(BaseModel):
    start: datetime
    end: datetime
    total: FigureItem
    by_week: dict[str, FigureItem]  # week's Monday (YYYY-MM-DD)
    by_village: dict[str, FigureItem]
    by_kind: dict[str, FigureItem]
    by_person: dict[str, FigureItem]


def _item(row: Any, now: datetime, readable: bool) -> IssueItem:
    return IssueItem(
        number=row.number,
        kind=row.kind,
        village=row.village_name or "",
        group=row.group_name,
        hidden=not readable,
        summary=short(row.text, 40) if readable else "",
        owner=row.owner_name,
        status=row.status,
        status_name=STATUS.get(row.status, row.status),
        created_at=row.created_at,
        due_at=row.due_at,
        closed_at=row.closed_at,
        days_late=issues.days_late(row.due_at, row.status, now),
        rating=row.rating if readable else None,
        settled_level=row.settled_level,
        reports=row.reports,
    )


@router.get("/issues", response_model=IssuePage, summary="事项列表（与后台列表同样的筛选）")
def api_issues(
    request: Request,
    viewer: ApiViewer,
    session: SessionDep,
    app: AppDep,
    village: Annotated[int | None, Query(description="村 id", ge=-MAX_ID, le=MAX_ID)] = None,
    group: Annotated[int | None, Query(description="群 id", ge=-MAX_ID, le=MAX_ID)] = None,
    kind: Annotated[str | None, Query(description="村里事 / 邻里事 / 户里事 / 待分类")] = None,
    status: Annotated[
        str | None, Query(description="open / claimed / closed / withdrawn / active")
    ] = None,
    owner: Annotated[int | None, Query(description="负责人 id", ge=-MAX_ID, le=MAX_ID)] = None,
    overdue: Annotated[bool, Query(description="只看超期未办结")] = False,
    from_: Annotated[str | None, Query(alias="from", description="登记日期起 YYYY-MM-DD")] = None,
    to: Annotated[str | None, Query(description="登记日期止 YYYY-MM-DD（含）")] = None,
    q: Annotated[str | None, Query(description="内容包含（空格分开的词都要有）")] = None,
    sort: Annotated[str, Query(description="new / old / due")] = "new",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> IssuePage:
    now = app.clock.now()
    f = read_filter(request.query_params, viewer, app.clock.tz)
    page, per_page = page_args(request.query_params)
    counts = issues.count_issues(session=session, f=f, now=now)
    rows = issues.list_issues(
        session=session, f=f, now=now, offset=(page - 1) * per_page, limit=per_page, counts=counts
    )
    return IssuePage(
        total=counts.total,
        total_capped=counts.capped,
        page=page,
        per_page=per_page,
        counts=counts.by_status,
        overdue=counts.overdue,
        items=[_item(r, now, reads(viewer, r)) for r in rows],
    )


def _event(e: Any, show: Any) -> EventItem:
    return EventItem(
        kind=e.kind,
        kind_name=EVENT.get(e.kind, e.kind),
        actor=e.actor,
        at=e.at,
        detail=show(e.detail),
    )


@router.get("/issues/{number}", response_model=IssueDetail, summary="一件事项及其时间线")
def api_issue(
    number: Annotated[int, Path(ge=1, le=MAX_ID, description="事项编号")],
    viewer: ApiViewer,
    session: SessionDep,
    app: AppDep,
) -> IssueDetail:
    issue = visible_issue(session, viewer, number)
    now = app.clock.now()
    show = (lambda s: s) if may_see_full(viewer, issue) else mask
    readable = reads(viewer, issue)
    owner = records.by_id(session, Person, issue.owner_id) if issue.owner_id else None
    events = issues.timeline(session=session, issue_id=issue.id or 0) if readable else []
    village = records.by_id(session, Village, issue.village_id)
    group = records.by_id(session, ChatGroup, issue.group_id) if issue.group_id else None
    return IssueDetail(
        number=issue.number,
        kind=issue.kind,
        village=village.name if village else "",
        group=group.name if group else None,
        hidden=not readable,
        summary=short(issue.text, 40) if readable else "",
        owner=owner.name if owner else None,
        status=issue.status,
        status_name=STATUS.get(issue.status, issue.status),
        created_at=issue.created_at,
        due_at=issue.due_at,
        closed_at=issue.closed_at,
        days_late=issues.days_late(issue.due_at, issue.status, now),
        rating=issue.rating if readable else None,
        settled_level=issue.settled_level,
        reports=issue.reports,
        text=show(issue.text) if readable else "",
        reporter_name=issue.reporter_name if readable else "",
        result=show(issue.result) if issue.result and readable else None,
        timeline=[_event(e, show) for e in events if e.kind != "report"],
        duplicate_reports=[_event(e, show) for e in events if e.kind == "report"],
    )


def _figures(f: figures.Figures) -> FigureItem:
    return FigureItem(
        new=f.new,
        closed=f.closed,
        closure_rate=f.closure_rate,
        on_time_rate=f.on_time_rate,
        satisfaction=f.satisfaction,
        rated=f.rated,
        levels=f.levels,
        open_now=f.open_now,
        overdue_now=f.overdue_now,
    )


@router.get("/stats", response_model=StatsOut, summary="统计：按周、村、类别、负责人")
def api_stats(
    request: Request,
    viewer: ApiViewer,
    session: SessionDep,
    app: AppDep,
    weeks: Annotated[
        int, Query(description=f"周数：{'/'.join(map(str, WEEK_CHOICES))}", ge=1, le=520)
    ] = 8,
    until: Annotated[str | None, Query(description="截止日期所在周 YYYY-MM-DD")] = None,
) -> StatsOut:
    now = app.clock.now()
    start, n = stats_period(request.query_params, now, app.clock.tz)
    s = figures.stats(session=session, start=start, weeks=n, villages=viewer.villages, now=now)
    names = {v.id: v.name for v in people.villages(session=session)}
    persons = {p.id: p.name for p in people.people(session=session)}
    tz = app.clock.tz
    return StatsOut(
        start=s.start,
        end=s.end,
        total=_figures(s.total),
        by_week={
            s.weeks[i].astimezone(tz).date().isoformat(): _figures(f)
            for i, f in sorted(s.by_week.items())
            if 0 <= i < len(s.weeks)
        },
        by_village={names.get(v, str(v)): _figures(f) for v, f in s.by_village.items()},
        by_kind={k: _figures(f) for k, f in s.by_kind.items()},
        by_person={persons.get(p, str(p)): _figures(f) for p, f in s.by_person.items()},
    )


# --- Open311 GeoReport v2 (read) -------------------------------------------------------------

open311 = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])
SERVICES = {
    Kind.VILLAGE: ("village", "公共事务：道路、水电、环境卫生、集体事务等"),
    Kind.NEIGHBOUR: ("neighbour", "邻里纠纷：宅基地、排水、通行、噪音等"),
    Kind.HOUSEHOLD: ("household", "一户的事：低保、医保、住房、照料等"),
}
CODES = {code: kind for kind, (code, _) in SERVICES.items()}
OPEN311_DEFAULT_DAYS = 90
OPEN311_MAX = 1000


def open311_viewer(
    request: Request,
    session: SessionDep,
    viewer: Annotated[Viewer | None, Depends(optional_viewer)],
    api_key: Annotated[str | None, Query(description="API 令牌（也可用 Bearer 头）")] = None,
) -> Viewer:
    if viewer is None and api_key:
        viewer = token_viewer(session, api_key, get_app(request).clock.now())
    if viewer is None:
        raise HTTPException(
            status_code=401, detail="需要 API 令牌", headers={"WWW-Authenticate": "Bearer"}
        )
    return viewer


Open311Viewer = Annotated[Viewer, Depends(open311_viewer)]


@open311.get("/services.json", summary="服务列表：三类事项")
def services() -> list[dict[str, Any]]:
    return [
        {
            "service_code": code,
            "service_name": kind.value,
            "description": description,
            "metadata": False,
            "type": "realtime",
            "keywords": kind.value,
            "group": "说事",
        }
        for kind, (code, description) in SERVICES.items()
    ]


def _request(row: Any, tz: Any) -> dict[str, Any]:
    kind_code = SERVICES[Kind(row.kind)][0] if row.kind in CODES.values() else "unsorted"
    closed = row.status in (Status.CLOSED, Status.WITHDRAWN)
    updated = max(t for t in (row.created_at, row.claimed_at, row.closed_at) if t is not None)
    notes = STATUS.get(row.status, row.status)
    # Whoever holds a token, Open311 speaks as to someone outside: a private kind's words never.
    public = reads(None, row)
    if row.status == Status.CLOSED and row.result and public:
        notes += "：" + mask(row.result)
    return {
        "service_request_id": str(row.number),
        "status": "closed" if closed else "open",
        "status_notes": notes,
        "service_name": row.kind,
        "service_code": kind_code,
        "description": mask(row.text) if public else f"（{row.kind}，内容不公开）",
        "agency_responsible": " ".join(x for x in (row.village_name, row.owner_name) if x),
        "service_notice": "",
        "requested_datetime": row.created_at.astimezone(tz).isoformat(),
        "updated_datetime": updated.astimezone(tz).isoformat(),
        "expected_datetime": row.due_at.astimezone(tz).isoformat(),
        "address": " ".join(x for x in (row.village_name, row.group_name) if x),
        "address_id": "",
        "zipcode": "",
        "lat": None,
        "long": None,
        "media_url": "",
    }


def _w3c(value: str | None, tz: Any) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise HTTPException(
            status_code=400, detail="时间格式不对，请写 2026-11-23T09:00:00+08:00。"
        ) from exc
    if not FIRST_DAY <= when.date() <= LAST_DAY:
        raise HTTPException(status_code=400, detail="时间超出范围（1900 年到 2999 年）。")
    return when if when.tzinfo else when.replace(tzinfo=tz)


def _number(value: str) -> int | None:
    """An issue number as Open311 clients send it: ASCII digits, no larger than any can be."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


@open311.get("/requests.json", summary="事项（默认最近 90 天，最多 1000 件）")
def requests_json(
    viewer: Open311Viewer,
    session: SessionDep,
    app: AppDep,
    service_request_id: Annotated[str | None, Query(description="逗号分隔的编号")] = None,
    service_code: Annotated[
        str | None, Query(description="village / neighbour / household")
    ] = None,
    start_date: Annotated[str | None, Query()] = None,
    end_date: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query(description="open / closed")] = None,
) -> list[dict[str, Any]]:
    now, tz = app.clock.now(), app.clock.tz
    if service_request_id:
        found = (_number(x) for x in service_request_id.split(",")[:OPEN311_MAX])
        numbers = [n for n in found if n is not None]
        return [r for n in numbers if (r := _one(session, viewer, n, now, tz))]
    start, end = _w3c(start_date, tz), _w3c(end_date, tz)
    if start is None and end is None:
        start = now - timedelta(days=OPEN311_DEFAULT_DAYS)
    kind = CODES.get(service_code or "")
    if service_code and kind is None:
        return []
    statuses = {"open": issues.ACTIVE, "closed": Status.CLOSED}
    f = issues.IssueFilter(
        villages=viewer.villages,
        kind=kind,
        status=statuses.get(status or ""),
        created_from=start,
        created_to=end,
    )
    rows = issues.list_issues(session=session, f=f, now=now, limit=OPEN311_MAX)
    return [_request(r, tz) for r in rows]


def _one(
    session: Session, viewer: Viewer, number: int, now: datetime, tz: Any
) -> dict[str, Any] | None:
    issue = issues.get_issue(session=session, number=number)
    if issue is None or not viewer.sees(issue.village_id):
        return None
    f = issues.IssueFilter(villages=viewer.villages, number=number)
    rows = issues.list_issues(session=session, f=f, now=now, limit=1)
    return _request(rows[0], tz) if rows else None


@open311.get("/requests/{request_id}.json", summary="一件事项")
def request_json(
    request_id: str, viewer: Open311Viewer, session: SessionDep, app: AppDep
) -> list[dict[str, Any]]:
    number = _number(request_id)
    if number is None:
        raise HTTPException(status_code=404, detail="没有这件事")
    found = _one(session, viewer, number, app.clock.now(), app.clock.tz)
    if found is None:
        raise HTTPException(status_code=404, detail="没有这件事，或它不归您管")
    return [found]


__all__ = ["open311", "router"]
