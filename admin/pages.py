"""The pages people use: log-in, 事项列表, 事项详情 with its actions, 未登记帖子, 统计, 台账导出,
状态. Changes call the handler functions the chat commands call (handlers/actions.py)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi import Path as InPath
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlmodel import Session

from admin import charts, export, readiness, status_view, votes_view
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
    LIST_PER_PAGE,
    MAX_ID,
    AppDep,
    Csrf,
    OptionalViewer,
    PageViewer,
    SessionDep,
    chat_enabled,
    clean,
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
from handlers import teams as handler_teams
from handlers.actions import Actor, Ctx, Outcome
from handlers.outbox import to_person
from handlers.parsing import parse_due
from handlers.privacy import mask
from handlers.register import dismiss_post, post_village, reads_post, register_post
from handlers.texts import ADMIN_RELAY, MERGE_NEEDS_NUMBER
from storage import (
    canned,
    chat_activity,
    figures,
    inbox,
    issues,
    outbox,
    people,
    posts,
    records,
    schedule,
    teams,
)
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


# The list's own query keys: none of them set means the person opened the list as it comes.
LIST_KEYS = ("village", "group", "kind", "status", "owner", "overdue", "from", "to", "q", "sort")


def list_view(params: Any, viewer: Viewer) -> str:
    """ "mine" (我的待办: their own matters still in hand) or "all". A cadre who is not a
    leader opens on their own to-do; 书记 and 镇领导, who supervise, on everything."""
    chosen = params.get("view")
    if chosen in ("mine", "all"):
        return str(chosen)
    if any(params.get(key) for key in LIST_KEYS):
        return "all"
    return "all" if viewer.role in (Role.SECRETARY, Role.TOWN_LEADER) else "mine"


def time_left(due_at: datetime, status: str, now: datetime) -> str:
    """剩余 2天 / 剩余 5小时 / 超期 3天 for a matter in hand; nothing for a finished one."""
    if status not in ("open", "claimed"):
        return ""
    late = issues.days_late(due_at, status, now)
    if late:
        return f"超期 {late}天"
    left = due_at - now
    hours = int(left.total_seconds() // 3600)
    if left >= timedelta(days=2):
        return f"剩余 {left.days}天"
    if left >= timedelta(days=1):  # "1天" would hide up to 23 hours more
        return f"剩余 1天{hours - 24}小时" if hours > 24 else "剩余 1天"
    return f"剩余 {hours}小时" if hours else "剩余 不到1小时"


@router.get("/issues")
def issue_list(request: Request, viewer: PageViewer, session: SessionDep, app: AppDep) -> Response:
    now = app.clock.now()
    f = read_filter(request.query_params, viewer, app.clock.tz)
    view = list_view(request.query_params, viewer)
    if view == "mine":
        # Their own matters wherever they are (a town mediator's are in the villages served).
        f = replace(f, owner_id=viewer.person_id, status=issues.ACTIVE, villages=None)
    page, per_page = page_args(request.query_params, default=LIST_PER_PAGE)
    counts = issues.count_issues(session=session, f=f, now=now)
    offset = (page - 1) * per_page
    rows = issues.list_issues(
        session=session, f=f, now=now, offset=offset, limit=per_page, counts=counts
    )
    pages = max(1, -(-counts.total // per_page))
    choices = _choices(session, viewer)
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
        view=view,
        days_late=lambda row: issues.days_late(row.due_at, row.status, now),
        time_left=lambda row: time_left(row.due_at, row.status, now),
        reads=lambda row: reads(viewer, row),
        may_claim=lambda row: row.status == "open" and _in_grid(viewer, row.village_id),
        leader=viewer.role in (Role.SECRETARY, Role.TOWN_LEADER),
        filtered=any(request.query_params.get(key) for key in LIST_KEYS),
        query_with=lambda **kw: _query_with(request, **kw),
        # The ledger of what is shown: 我的待办 is an owner and a status filter.
        export_query=_query_with(
            request,
            page=None,
            view=None,
            **({"owner": viewer.person_id, "status": "active"} if view == "mine" else {}),
        ),
        **choices,
        bulk_people=_bulk_people(session, choices["people"], choices["villages"]),
        village_names={v.id: v.name for v in choices["villages"]},
    )


def _bulk_people(session: Session, found: list[Any], villages: list[Any]) -> list[Any]:
    """Whom the bulk 指派 offers: the villages' people and the town's mediators serving them
    (for a 邻里事; actions.assign refuses the rest, naming who may take each matter). The
    town's own people take no village's matter, so they are not offered."""
    offered = [p for p in found if p.village_id is not None]
    for village in villages:
        for mediator in teams.mediators(session=session, village_id=village.id):
            if all(p.id != mediator.id for p in offered):
                offered.append(mediator)
    return offered


def _in_grid(viewer: Viewer, village_id: int) -> bool:
    """Whether this viewer may claim a matter of that village (handlers.actions.in_grid_of)."""
    return viewer.role == Role.TOWN_LEADER or viewer.village_id == village_id


# --- 事项详情 and its actions ------------------------------------------------------------------


def visible_issue(session: Session, viewer: Viewer, number: int) -> Issue:
    """The issue, if this viewer may see it; otherwise "not found" (not even its existence)."""
    return _visible(session, viewer, number)[0]


def _visible(session: Session, viewer: Viewer, number: int) -> tuple[Issue, bool]:
    """`visible_issue`, and whether the viewer sees it as a mediator invited to it."""
    issue = issues.get_issue(session=session, number=number)
    if issue is None:
        raise HTTPException(status_code=404, detail=f"没有 #{number} 这件事，或它不归您管。")
    # Its owner always sees it: a town mediator given a 邻里事 belongs to no village; so does a
    # mediator asked to help settle it (邀请).
    if viewer.person_id == issue.owner_id or viewer.sees(issue.village_id):
        return issue, False
    if invited_mediator(session, viewer, issue):
        return issue, True
    raise HTTPException(status_code=404, detail=f"没有 #{number} 这件事，或它不归您管。")


def invited_mediator(session: Session, viewer: Viewer, issue: Issue) -> bool:
    """A town mediator asked to help settle this 邻里事 (邀请): reads it as the invitation did."""
    if viewer.role != Role.MEDIATOR:
        return False
    person = records.by_id(session, Person, viewer.person_id)
    return handler_teams.invited_to(session, issue, person)


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
    issue, invited = _visible(session, viewer, number)
    full = may_see_full(viewer, issue) or invited
    show: Callable[[str], str] = (lambda s: s) if full else mask
    readable = reads(viewer, issue) or invited
    # Someone who may not read it sees the stub: no text, notes, result or attachments.
    events = issues.timeline(session=session, issue_id=issue.id or 0) if readable else []
    owner = records.by_id(session, Person, issue.owner_id) if issue.owner_id else None
    village = records.by_id(session, Village, issue.village_id)
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
        group=records.by_id(session, ChatGroup, issue.group_id) if issue.group_id else None,
        events=events,
        # The posts linked to it as the same matter (each can be split off into its own).
        reports=posts.linked_reports(session=session, issue_id=issue.id or 0) if readable else [],
        attachments=actions.attachments_of(issue) if readable else [],
        late=issues.days_late(issue.due_at, issue.status, now),
        people=actions.assignable(session, issue),  # a 邻里事: the town's mediators too
        kinds=KINDS,
        in_progress=issue.status in ("open", "claimed"),
        can_claim=issue.status == "open" and actions.in_grid_of(actor, issue),
        can_assign=actions.is_leader_of(actor, issue),
        canned_close=canned.replies(session=session, village_id=issue.village_id, purpose="close"),
        canned_note=canned.replies(session=session, village_id=issue.village_id, purpose="note"),
        keeps_canned=_keeps_canned(viewer, issue.village_id),
        can_finish=actions.can_finish(actor, issue),
        can_split=readable and actions.can_finish(actor, issue),
        due_value=issue.due_at.astimezone(app.clock.tz).strftime("%Y-%m-%dT%H:%M"),
        **votes_view.issue_extras(session, issue, now=now, tz=app.clock.tz),  # 议事, 回访
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
    back: str | None = None,
) -> Response:
    """Run one handler action as this viewer; commit when it succeeded. With `relay`, the
    owner hears of it when someone else made the change (the handler tells nobody). Then back
    to the issue's page (or to `back`)."""
    app = get_app(request)
    issue = visible_issue(session, viewer, number)
    ctx = Ctx(session, app.deps, app.clock.now())
    actor = viewer.actor(session)
    outcome = change(ctx, issue, actor)
    if outcome.ok:
        if relay:
            _relay(ctx, issue, viewer, actor, outcome)
        session.commit()
    else:
        session.rollback()
    flash(request, outcome.text, outcome.ok)
    return RedirectResponse(back or f"/issues/{number}", status_code=303)


def _relay(ctx: Ctx, issue: Issue, viewer: Viewer, actor: Actor, outcome: Outcome) -> None:
    """The owner hears of a change someone else made in the admin (the handler tells nobody)."""
    owner = actions.owner_of(ctx, issue)
    if owner is not None and owner.id != viewer.person_id:
        to_person(
            ctx.session,
            owner,
            ADMIN_RELAY.format(actor=actor.label, text=outcome.text),
            now=ctx.now,
            issue_id=issue.id,
            category="notice",
        )


def _list_url(value: str) -> str | None:
    """Where a form on the list sends the person back: the list as they had it filtered."""
    value = value.strip()[:2000]
    if value == "/issues" or value.startswith("/issues?"):
        return value
    return None


@router.post("/issues/{number}/claim", dependencies=[Csrf])
def issue_claim(
    number: IssueNumber,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    back: Annotated[str, Form()] = "",
) -> Response:
    """认领, on the issue page or in a row of the list (back to the list as it was)."""
    return _act(
        request,
        session,
        viewer,
        number,
        lambda c, i, a: actions.claim(c, i, a),
        back=_list_url(back),
    )


@router.post("/issues/{number}/assign", dependencies=[Csrf])
def issue_assign(
    number: IssueNumber,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    person: Annotated[int, Form(ge=1, le=MAX_ID)],
) -> Response:
    def change(ctx: Ctx, issue: Issue, actor: Actor) -> Outcome:
        target = records.by_id(ctx.session, Person, person)
        if target is None or not target.active:
            return actions.refuse("请从本村网格里选人。")
        return actions.assign(ctx, issue, actor, target)  # who may take it: actions.assignable

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
    canned_id: Annotated[str, Form(alias="canned")] = "",
) -> Response:
    def change(ctx: Ctx, issue: Issue, actor: Actor) -> Outcome:
        said = _with_canned(ctx.session, issue, "note", text, canned_id)
        return actions.add_note(ctx, issue, actor, said)

    return _act(request, session, viewer, number, change)


def _with_canned(session: Session, issue: Issue, purpose: str, typed: str, chosen: str) -> str:
    """What was typed, or else the canned reply picked (of the issue's village, for this)."""
    if typed.strip():
        return typed
    reply = canned.get_reply(session=session, reply_id=read_int(chosen) or 0)
    if reply is None or reply.village_id != issue.village_id or reply.purpose != purpose:
        return typed
    return reply.text


@router.post("/issues/{number}/close", dependencies=[Csrf])
def issue_close(
    number: IssueNumber,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    result: Annotated[str, Form()] = "",
    canned_id: Annotated[str, Form(alias="canned")] = "",
) -> Response:
    def change(ctx: Ctx, issue: Issue, actor: Actor) -> Outcome:
        said = _with_canned(ctx.session, issue, "close", result, canned_id)
        return actions.close(ctx, issue, actor, said)

    return _act(request, session, viewer, number, change, relay=True)


# --- bulk actions (书记 and 镇领导, from the list) ---------------------------------------------

BULK_ACTIONS = ("assign", "due", "close")
BULK_MAX = 200


@router.post("/issues/bulk", dependencies=[Csrf])
def issue_bulk(
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    action: Annotated[str, Form()] = "",
    numbers: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies the default)
    person: Annotated[str, Form()] = "",
    due: Annotated[str, Form()] = "",
    result: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """指派 / 改限期 / 办结 (with one result) for the matters ticked in the list: each through
    the same handler action as one at a time; what is refused for one is said, the others
    done."""
    to = _list_url(back) or "/issues"
    if viewer.role not in (Role.SECRETARY, Role.TOWN_LEADER):
        flash(request, "批量办理只给书记和镇领导用。", False)
        return RedirectResponse(to, status_code=303)
    chosen = sorted({n for n in (read_number(v) for v in numbers[:BULK_MAX]) if n is not None})
    if action not in BULK_ACTIONS or not chosen:
        flash(request, "请先勾选事项，再选择批量操作。", False)
        return RedirectResponse(to, status_code=303)
    app = get_app(request)
    ctx = Ctx(session, app.deps, app.clock.now())
    actor = viewer.actor(session)
    target = records.by_id(session, Person, read_int(person) or 0) if action == "assign" else None
    when = _parse_due(due, ctx.now, app.clock.tz) if action == "due" else None
    done: list[int] = []
    refused: list[str] = []
    for number in chosen:
        issue = issues.get_issue(session=session, number=number)
        if issue is None or not viewer.sees(issue.village_id):
            refused.append(f"没有 #{number} 这件事，或它不归您管。")
            continue
        if action == "assign":
            if target is None or not target.active:
                outcome = actions.refuse(f"#{number}：请从本村网格里选人。")
            else:  # who may take it: actions.assignable, as one at a time
                outcome = actions.assign(ctx, issue, actor, target)
                if not outcome.ok:
                    outcome = actions.refuse(f"#{number}：{outcome.text}")
        elif action == "due":
            if when is None:
                outcome = actions.refuse("看不懂这个期限，请选日期时间。")
            else:
                outcome = actions.set_due(ctx, issue, actor, when)
        else:
            outcome = actions.close(ctx, issue, actor, result)
        if outcome.ok:
            if action != "assign":
                _relay(ctx, issue, viewer, actor, outcome)
            done.append(number)
        else:
            refused.append(outcome.text)
    # A refusal changes nothing (the handler refuses before it changes), so what was done is
    # kept whatever was refused.
    session.commit()
    parts = []
    if done:
        parts.append(f"已办 {len(done)} 件：" + " ".join(f"#{n}" for n in done) + "。")
    if refused:
        parts.append(f"未办 {len(refused)} 件：" + "；".join(dict.fromkeys(refused)))
    flash(request, "".join(parts), not refused)
    return RedirectResponse(to, status_code=303)


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


# --- 常用回复: a village's canned replies, kept by its 书记 -------------------------------------

CANNED_PURPOSES = {"close": "办结结果", "note": "进展"}


def _keeps_canned(viewer: Viewer, village_id: int | None) -> bool:
    return (
        viewer.role == Role.SECRETARY and village_id is not None and viewer.village_id == village_id
    )


def _canned_village(viewer: Viewer) -> int:
    if viewer.role != Role.SECRETARY or viewer.village_id is None:
        raise HTTPException(status_code=403, detail="常用回复由本村书记维护。")
    return viewer.village_id


@router.get("/canned")
def canned_page(request: Request, viewer: PageViewer, session: SessionDep) -> Response:
    village_id = _canned_village(viewer)
    rows = canned.replies(session=session, village_id=village_id)
    return render(
        request,
        "canned.html",
        viewer,
        village=records.by_id(session, Village, village_id),
        purposes=CANNED_PURPOSES,
        by_purpose={p: [r for r in rows if r.purpose == p] for p in CANNED_PURPOSES},
        max_text=canned.MAX_TEXT,
    )


@router.post("/canned", dependencies=[Csrf])
def canned_add(
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    app: AppDep,
    purpose: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    village_id = _canned_village(viewer)
    said = " ".join(clean(text).split())
    if purpose not in CANNED_PURPOSES or not said:
        flash(request, "请选用途并写上回复内容。", False)
    elif len(said) > canned.MAX_TEXT:
        flash(request, f"常用回复请写在{canned.MAX_TEXT}字以内。", False)
    elif len(canned.replies(session=session, village_id=village_id)) >= canned.MAX_PER_VILLAGE:
        flash(request, f"常用回复最多{canned.MAX_PER_VILLAGE}条，请先删掉不用的。", False)
    else:
        canned.add_reply(
            session=session, village_id=village_id, purpose=purpose, text=said, now=app.clock.now()
        )
        session.commit()
        flash(request, f"已添加常用回复：{said}")
    return RedirectResponse("/canned", status_code=303)


@router.post("/canned/{reply_id}/delete", dependencies=[Csrf])
def canned_delete(
    reply_id: PostId, request: Request, viewer: PageViewer, session: SessionDep
) -> Response:
    village_id = _canned_village(viewer)
    reply = canned.get_reply(session=session, reply_id=reply_id)
    if reply is not None and reply.village_id == village_id:
        canned.delete_reply(session=session, reply=reply)
        session.commit()
        flash(request, f"已删除常用回复：{reply.text}")
    return RedirectResponse("/canned", status_code=303)


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


def _of_villages(session: Session, viewer: Viewer, rows: list[Any]) -> list[Any]:
    """The rows (posts whose handling failed, answers not sent) a viewer may read: the names
    in them are villagers'. A 书记 reads those of their villages' groups and matters; a
    private chat of no matter is the operator's (shuoshi inbox / outbox)."""
    if viewer.villages is None:
        return rows
    found = chat_activity.group_chats(session=session, village_ids=viewer.villages)
    keys = {key for g in found for key in g.chats}
    kept = []
    for row in rows:
        issue_id = getattr(row, "issue_id", None)
        issue = records.by_id(session, Issue, issue_id) if issue_id else None
        if f"{row.platform}:{row.chat}" in keys or (
            issue is not None and viewer.sees(issue.village_id)
        ):
            kept.append(row)
    return kept


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
        failed=_of_villages(session, viewer, outbox.latest_failed(session=session)),
        inbox_counts=inbox.counts(session),
        inbox_rows=_of_villages(session, viewer, inbox.unhandled(session, limit=20)),
        database=database,
        groups=status_view.groups(app, session, viewer.villages),
        problems=status_view.problems(app, readiness.check(app)[1]),
        minutes_ago=status_view.minutes_ago,
    )


__all__ = ["may_see_full", "router", "visible_issue"]
