"""The pages people use: log-in, 事项列表, 事项详情 with its actions, 未登记帖子, 统计, 台账导出,
状态. Changes call the handler functions the chat commands call (handlers/actions.py)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi import Path as InPath
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlmodel import Session

from admin import charts, export, readiness, status_view
from admin.auth import (
    LoginLimits,
    Viewer,
    check_password,
    close_session,
    open_session,
)
from admin.security import address_key, client_address
from admin.web import (
    FIRST_DAY,
    LAST_DAY,
    MAX_ID,
    AppDep,
    Csrf,
    OptionalViewer,
    PageViewer,
    SessionDep,
    chat_enabled,
    csrf_token,
    flash,
    get_app,
    get_options,
    local_midnight,
    page_args,
    read_date,
    read_filter,
    read_int,
    reads,
    render,
)
from handlers import actions, merging
from handlers.actions import Actor, Ctx, Outcome
from handlers.outbox import to_person
from handlers.parsing import parse_due
from handlers.privacy import mask
from handlers.register import dismiss_post, post_village, reads_post, register_post
from handlers.texts import ADMIN_RELAY, MERGE_NEEDS_NUMBER
from storage import figures, inbox, issues, outbox, people, posts, schedule
from storage.db import current_revision, head_revision
from storage.models import KINDS, ChatGroup, Inbound, Issue, Kind, Person, Role, Village

router = APIRouter(include_in_schema=False)

# Numbers in a path: an issue's number, a post's id, an attachment's place in its list.
IssueNumber = Annotated[int, InPath(ge=1, le=MAX_ID, description="事项编号")]
PostId = Annotated[int, InPath(ge=1, le=MAX_ID)]
Index = Annotated[int, InPath(ge=0, le=1000)]

# --- log-in ----------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/issues"


@router.get("/")
def home(request: Request, viewer: OptionalViewer) -> Response:
    if viewer is not None and viewer.via == "session":
        return RedirectResponse("/issues", status_code=303)
    return RedirectResponse("/chat" if chat_enabled(get_app(request)) else "/login", 303)


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    return render(request, "login.html", None, next=_safe_next(next), error=None, name="")


@router.post("/login", dependencies=[Csrf])
def login(
    request: Request,
    session: SessionDep,
    app: AppDep,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    limits: LoginLimits = request.app.state.login_limits
    now = app.clock.now()
    address = address_key(client_address(request, get_options(request)))
    name = name.strip()[:50]

    def again(error: str, status: int) -> Response:
        response = render(
            request, "login.html", None, next=_safe_next(next), name=name, error=error
        )
        response.status_code = status
        return response

    wait = limits.address_wait(session, address, now)
    if wait:
        response = again(f"这里登录失败的次数太多，请等 {wait} 秒后再试。", 429)
        response.headers["Retry-After"] = str(wait)
        return response
    person = check_password(session, name, password[:1000]) if name and password else None
    if person is None:
        limits.failed(session, name, address, now)
        session.commit()
        return again("姓名或密码不对。", 401)
    token = open_session(session, person, now, app.settings.admin_session_hours)
    session.commit()
    request.session.clear()  # a new session on log-in: nothing from before carries over
    request.session.update(sid=token)
    csrf_token(request)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request, session: SessionDep) -> Response:
    close_session(session, dict(request.session))
    session.commit()
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


# --- 事项列表 ----------------------------------------------------------------------------------


def _choices(session: Session, viewer: Viewer) -> dict[str, Any]:
    return {
        "villages": people.villages(session=session, ids=viewer.villages),
        "groups": people.groups(session=session, village_ids=viewer.villages),
        "people": people.people(session=session, village_ids=viewer.villages),
        "kinds": [*KINDS, Kind.UNSORTED],
    }


def _query_with(request: Request, **changes: object) -> str:
    params = {k: v for k, v in request.query_params.items() if v}
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return urlencode(params)


@router.get("/issues")
def issue_list(request: Request, viewer: PageViewer, session: SessionDep, app: AppDep) -> Response:
    now = app.clock.now()
    f = read_filter(request.query_params, viewer, app.clock.tz)
    page, per_page = page_args(request.query_params)
    counts = issues.count_issues(session=session, f=f, now=now)
    offset = (page - 1) * per_page
    rows = issues.list_issues(
        session=session, f=f, now=now, offset=offset, limit=per_page, counts=counts
    )
    pages = max(1, -(-counts.total // per_page))
    return render(
        request,
        "issues.html",
        viewer,
        rows=rows,
        counts=counts,
        f=f,
        page=page,
        pages=pages,
        per_page=per_page,
        days_late=lambda row: issues.days_late(row.due_at, row.status, now),
        reads=lambda row: reads(viewer, row),
        query_with=lambda **kw: _query_with(request, **kw),
        export_query=_query_with(request, page=None),
        **_choices(session, viewer),
    )


# --- 事项详情 and its actions ------------------------------------------------------------------


def visible_issue(session: Session, viewer: Viewer, number: int) -> Issue:
    """The issue, if this viewer may see it; otherwise "not found" (not even its existence)."""
    issue = issues.get_issue(session=session, number=number)
    if issue is None or not viewer.sees(issue.village_id):
        raise HTTPException(status_code=404, detail=f"没有 #{number} 这件事，或它不归您管。")
    return issue


def may_see_full(viewer: Viewer, issue: Issue) -> bool:
    """The owner, the village 书记 and 镇领导 see numbers in full; others see them masked."""
    return (
        viewer.role == Role.TOWN_LEADER
        or (viewer.role == Role.SECRETARY and viewer.village_id == issue.village_id)
        or viewer.person_id == issue.owner_id
    )


@router.get("/issues/{number}")
def issue_detail(
    number: IssueNumber, request: Request, viewer: PageViewer, session: SessionDep, app: AppDep
) -> Response:
    issue = visible_issue(session, viewer, number)
    full = may_see_full(viewer, issue)
    show: Callable[[str], str] = (lambda s: s) if full else mask
    readable = reads(viewer, issue)
    # Someone who may not read it sees the stub: no text, notes, result or attachments.
    events = issues.timeline(session=session, issue_id=issue.id or 0) if readable else []
    owner = session.get(Person, issue.owner_id) if issue.owner_id else None
    village = session.get(Village, issue.village_id)
    now = app.clock.now()
    actor = viewer.actor(session)
    return render(
        request,
        "issue.html",
        viewer,
        issue=issue,
        show=show,
        full=full,
        readable=readable,
        owner=owner,
        village=village,
        group=session.get(ChatGroup, issue.group_id) if issue.group_id else None,
        events=events,
        # The posts linked to it as the same matter (each can be split off into its own).
        reports=posts.linked_reports(session=session, issue_id=issue.id or 0) if readable else [],
        attachments=actions.attachments_of(issue) if readable else [],
        late=issues.days_late(issue.due_at, issue.status, now),
        people=people.people(session=session, village_ids=(issue.village_id,)),
        kinds=KINDS,
        in_progress=issue.status in ("open", "claimed"),
        can_assign=actions.is_leader_of(actor, issue),
        can_finish=actions.can_finish(actor, issue),
        can_split=readable and actions.can_finish(actor, issue),
        due_value=issue.due_at.astimezone(app.clock.tz).strftime("%Y-%m-%dT%H:%M"),
    )


def _parse_due(value: str, now: datetime, tz: Any) -> datetime | None:
    value = value.strip()[:100]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return parse_due(value, now)
    if not FIRST_DAY <= parsed.date() <= LAST_DAY:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _act(
    request: Request,
    session: Session,
    viewer: Viewer,
    number: int,
    change: Callable[[Ctx, Issue, Actor], Outcome],
    *,
    relay: bool = False,
) -> Response:
    """Run one handler action as this viewer; commit when it succeeded. With `relay`, the
    owner hears of it when someone else made the change (the handler tells nobody)."""
    app = get_app(request)
    issue = visible_issue(session, viewer, number)
    ctx = Ctx(session, app.deps, app.clock.now())
    actor = viewer.actor(session)
    outcome = change(ctx, issue, actor)
    if outcome.ok:
        owner = actions.owner_of(ctx, issue)
        if relay and owner is not None and owner.id != viewer.person_id:
            to_person(
                session,
                owner,
                ADMIN_RELAY.format(actor=actor.label, text=outcome.text),
                now=ctx.now,
                issue_id=issue.id,
                category="notice",
            )
        session.commit()
    else:
        session.rollback()
    flash(request, outcome.text, outcome.ok)
    return RedirectResponse(f"/issues/{number}", status_code=303)


@router.post("/issues/{number}/assign", dependencies=[Csrf])
def issue_assign(
    number: IssueNumber,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    person: Annotated[int, Form(ge=1, le=MAX_ID)],
) -> Response:
    def change(ctx: Ctx, issue: Issue, actor: Actor) -> Outcome:
        target = ctx.session.get(Person, person)
        if target is None or not target.active or target.village_id != issue.village_id:
            return actions.refuse("请从本村网格里选人。")
        return actions.assign(ctx, issue, actor, target)

    return _act(request, session, viewer, number, change)


@router.post("/issues/{number}/due", dependencies=[Csrf])
def issue_due(
    number: IssueNumber,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    due: Annotated[str, Form()],
) -> Response:
    def change(ctx: Ctx, issue: Issue, actor: Actor) -> Outcome:
        when = _parse_due(due, ctx.now, ctx.deps.clock.tz)
        if when is None:
            return actions.refuse("看不懂这个期限，请选日期时间，或写 3天、明天、2026-12-01。")
        return actions.set_due(ctx, issue, actor, when)

    return _act(request, session, viewer, number, change, relay=True)


@router.post("/issues/{number}/kind", dependencies=[Csrf])
def issue_kind(
    number: IssueNumber,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    kind: Annotated[str, Form()],
) -> Response:
    def change(ctx: Ctx, issue: Issue, actor: Actor) -> Outcome:
        if kind not in KINDS:
            return actions.refuse("请选择类别：村里事、邻里事或户里事。")
        return actions.set_kind(ctx, issue, actor, Kind(kind))

    return _act(request, session, viewer, number, change, relay=True)


@router.post("/issues/{number}/note", dependencies=[Csrf])
def issue_note(
    number: IssueNumber,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    text: Annotated[str, Form()] = "",
) -> Response:
    return _act(request, session, viewer, number, lambda c, i, a: actions.add_note(c, i, a, text))


@router.post("/issues/{number}/close", dependencies=[Csrf])
def issue_close(
    number: IssueNumber,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    result: Annotated[str, Form()] = "",
) -> Response:
    return _act(
        request,
        session,
        viewer,
        number,
        lambda c, i, a: actions.close(c, i, a, result),
        relay=True,
    )


@router.post("/issues/{number}/reopen", dependencies=[Csrf])
def issue_reopen(
    number: IssueNumber,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    return _act(
        request, session, viewer, number, lambda c, i, a: actions.reopen(c, i, a, reason.strip())
    )


@router.post("/issues/{number}/split/{inbound_id}", dependencies=[Csrf])
def issue_split(
    number: IssueNumber,
    inbound_id: PostId,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
) -> Response:
    """拆成新事项: a report linked to this issue becomes an issue of its own."""
    return _act(
        request,
        session,
        viewer,
        number,
        lambda c, i, a: merging.split_report(c, i, inbound_id, a),
    )


def read_number(value: str) -> int | None:
    """An issue number as people type it: 12, #12, ＃１２, 12号."""
    cleaned = unicodedata.normalize("NFKC", value)[:20]
    cleaned = cleaned.strip().lstrip("#").removesuffix("号").strip()
    number = read_int(cleaned)
    return number if number is not None and number >= 1 else None


@router.post("/issues/{number}/merge", dependencies=[Csrf])
def issue_merge(
    number: IssueNumber,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    into: Annotated[str, Form()] = "",
) -> Response:
    """合并: this issue is closed into the issue numbered `into`."""

    def change(ctx: Ctx, issue: Issue, actor: Actor) -> Outcome:
        target = read_number(into)
        if target is None:
            return actions.refuse(MERGE_NEEDS_NUMBER)
        return merging.merge_issues(ctx, issue, target, actor)

    return _act(request, session, viewer, number, change)


@router.get("/issues/{number}/attachments/{index}")
def attachment(
    number: IssueNumber, index: Index, viewer: PageViewer, session: SessionDep, app: AppDep
) -> Response:
    """A stored copy of a photo or voice message, only from inside the data folder, for those
    who may read the issue."""
    issue = visible_issue(session, viewer, number)
    items = actions.attachments_of(issue) if reads(viewer, issue) else []
    if not 0 <= index < len(items) or not items[index].get("path"):
        raise HTTPException(status_code=404, detail="没有这个附件。")
    root = Path(app.settings.data_dir).resolve()
    path = (root / items[index]["path"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(status_code=404, detail="附件文件不在了。")
    return FileResponse(path)


# --- 未登记帖子 --------------------------------------------------------------------------------


# The lists of 未登记帖子: the posts a person decides (拿不准, the default) and those the bot
# took for chatter (闲聊), which can still be registered.
POST_FILTERS = ("unsure", "chatter")


def _post_readers(ctx: Ctx, viewer: Viewer, rows: list[Any]) -> dict[int, bool]:
    """Post id → whether this viewer may read it (and so decide it): a group post, the grid of
    its village; a private post, only the village's 书记 and the 镇领导 (handlers/register.py)."""
    out: dict[int, bool] = {}
    for row in rows:
        post: Inbound = row[0]
        village = row.village_id
        if post.private and village is None:
            village = post_village(ctx, post)  # as registering it would place it
        out[post.id or 0] = reads_post(
            viewer.role, viewer.village_id, private=post.private, village_id=village
        )
    return out


@router.get("/posts")
def post_list(request: Request, viewer: PageViewer, session: SessionDep, app: AppDep) -> Response:
    page, per_page = page_args(request.query_params)
    status = request.query_params.get("status") or "unsure"
    status = status if status in POST_FILTERS else "unsure"
    rows, total = posts.kept_posts(
        session=session,
        status=status,
        villages=viewer.villages,
        offset=(page - 1) * per_page,
        limit=per_page,
    )
    names = {v.id: v.name for v in people.villages(session=session)}
    ctx = Ctx(session, app.deps, app.clock.now())
    return render(
        request,
        "posts.html",
        viewer,
        rows=rows,
        total=total,
        capped=total >= posts.POSTS_COUNT_CAP,
        status=status,
        page=page,
        pages=max(1, -(-total // per_page)),
        village_names=names,
        villages=people.villages(session=session, ids=viewer.villages),
        kinds=KINDS,
        readable=_post_readers(ctx, viewer, rows),
        media=lambda row: [a.get("kind", "") for a in json.loads(row.attachments or "[]")],
        query_with=lambda **kw: _query_with(request, **kw),
    )


def _decide_post(
    request: Request,
    session: Session,
    viewer: Viewer,
    decide: Callable[[Ctx, Actor], Outcome],
    back: str = "",
) -> Response:
    """Run a decision on a kept post; back to the list it was made on."""
    app = get_app(request)
    ctx = Ctx(session, app.deps, app.clock.now())
    outcome = decide(ctx, viewer.actor(session))
    if outcome.ok:
        session.commit()
    else:
        session.rollback()
    flash(request, outcome.text, outcome.ok)
    return RedirectResponse(
        "/posts?status=chatter" if back == "chatter" else "/posts", status_code=303
    )


@router.post("/posts/{inbound_id}/register", dependencies=[Csrf])
def post_register(
    inbound_id: PostId,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    kind: Annotated[str, Form()],
    village: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    chosen = read_int(village)
    return _decide_post(
        request,
        session,
        viewer,
        lambda ctx, actor: register_post(
            ctx, inbound_id, kind, actor, village_id=chosen, from_chatter=True
        ),
        back,
    )


@router.post("/posts/{inbound_id}/dismiss", dependencies=[Csrf])
def post_dismiss(
    inbound_id: PostId, request: Request, viewer: PageViewer, session: SessionDep
) -> Response:
    return _decide_post(
        request, session, viewer, lambda ctx, actor: dismiss_post(ctx, inbound_id, actor)
    )


# --- 统计 --------------------------------------------------------------------------------------

WEEK_CHOICES = (4, 8, 12, 26, 52)


def stats_period(params: Any, now: datetime, tz: Any) -> tuple[datetime, int]:
    """The Monday 00:00 the figures start at and how many weeks they cover (to this week)."""
    weeks = read_int(params.get("weeks")) or 8
    weeks = weeks if weeks in WEEK_CHOICES else 8
    today = now.astimezone(tz).date()
    this_monday = today - timedelta(days=today.weekday())
    end_day: date = this_monday + timedelta(weeks=1)
    chosen = read_date(params.get("until"))
    if chosen is not None:
        end_day = chosen - timedelta(days=chosen.weekday()) + timedelta(weeks=1)
    return local_midnight(end_day - timedelta(weeks=weeks), tz), weeks


@router.get("/stats")
def stats_page(request: Request, viewer: PageViewer, session: SessionDep, app: AppDep) -> Response:
    now = app.clock.now()
    start, weeks = stats_period(request.query_params, now, app.clock.tz)
    s = figures.stats(session=session, start=start, weeks=weeks, villages=viewer.villages, now=now)
    villages = people.villages(session=session, ids=viewer.villages)
    persons = {p.id: p for p in people.people(session=session, village_ids=viewer.villages)}
    return render(
        request,
        "stats.html",
        viewer,
        s=s,
        weeks=weeks,
        week_choices=WEEK_CHOICES,
        villages=villages,
        people=persons,
        week_label=lambda dt: dt.astimezone(app.clock.tz).strftime("%m-%d"),
        chart_weeks=charts.weekly(s, app.clock.tz),
        chart_villages=charts.villages(s, villages) if len(villages) > 1 else "",
        chart_kinds=charts.kinds(s),
        chart_levels=charts.levels(s),
    )


# --- 台账导出 ----------------------------------------------------------------------------------


@router.get("/export.xlsx")
def export_xlsx(request: Request, viewer: PageViewer, app: AppDep) -> Response:
    f = read_filter(request.query_params, viewer, app.clock.tz)
    return export.xlsx_response(app, f, lambda row: reads(viewer, row))


@router.get("/export.csv")
def export_csv(request: Request, viewer: PageViewer, app: AppDep) -> Response:
    f = read_filter(request.query_params, viewer, app.clock.tz)
    return export.csv_response(app, f, lambda row: reads(viewer, row))


# --- 状态 --------------------------------------------------------------------------------------


@router.get("/status")
def status_page(request: Request, viewer: PageViewer, session: SessionDep, app: AppDep) -> Response:
    if viewer.role not in (Role.TOWN_LEADER, Role.SECRETARY):
        raise HTTPException(status_code=403, detail="状态页只给书记和镇领导看。")
    database: dict[str, Any] = {"dialect": app.engine.dialect.name}
    try:
        database["url"] = app.engine.url.render_as_string(hide_password=True)
        database["revision"] = current_revision(app.engine)
        database["head"] = head_revision()
        database["issues"] = issues.count_all(session=session)
        database["ok"] = True
    except Exception as exc:  # shown on the page: the database is what may be broken
        database["ok"] = False
        database["error"] = str(exc)[:300]
    platforms: dict[str, dict[str, Any]] = {
        "telegram": {
            "configured": bool(app.settings.telegram_bot_token),
            "mode": "webhook" if app.settings.telegram_webhook_url else "polling",
        },
        "wechat": {"configured": bool(app.settings.wechaty_puppet_service_endpoint)},
        "local": {"configured": chat_enabled(app)},
    }
    for name, info in app.status.items():
        if name in platforms:
            platforms[name].update(info)
    others = {k: v for k, v in app.status.items() if k not in platforms and k != "jobs"}
    jobs = {
        name: {"上次": at, "周期": period}
        for name, period, at in schedule.last_job_runs(session=session)
    }
    jobs.update(app.status.get("jobs", {}))
    return render(
        request,
        "status.html",
        viewer,
        platforms=platforms,
        transports=sorted(app.transports),
        jobs=jobs,
        others=others,
        outbox=outbox.unsent_summary(session=session),
        oldest=outbox.oldest_pending(session=session),
        failed=outbox.latest_failed(session=session),
        inbox_counts=inbox.counts(session),
        inbox_rows=inbox.unhandled(session, limit=20),
        database=database,
        groups=status_view.groups(app, session, viewer.villages),
        problems=status_view.problems(app, readiness.check(app)[1]),
        minutes_ago=status_view.minutes_ago,
    )


__all__ = ["may_see_full", "router", "visible_issue"]
