"""What every admin route shares: the App, a database session, the viewer, CSRF and the
origin of forms, who may read an issue's words, templates, and reading the list filter and
other numbers and dates from a query string (never an error, whatever is typed there)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from admin import labels
from admin.auth import Viewer, csrf_ok, session_viewer, token_viewer
from admin.security import AdminOptions, same_site
from handlers.privacy import mask, privacy_kind, sees_text, short
from storage.issues import ACTIVE, SORTS, IssueFilter
from storage.models import KINDS, Kind, Status
from storage.search import Reader

if TYPE_CHECKING:
    from handlers.deps import Deps
    from ports.runtime import Runtime

    App = Runtime[Deps]

HERE = Path(__file__).parent
PER_PAGE = 50
LIST_PER_PAGE = 20  # the issue list: 20 cards fill a phone screen a few times, not dozens
MAX_PER_PAGE = 200
MAX_PAGE = 100_000
# Ids and issue numbers are 32-bit integers in the database: a larger number names nothing.
MAX_ID = 2**31 - 1
# Dates outside these years filter nothing away (and are past what times can be compared in).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)


class LoginRequired(Exception):
    """A page needs a logged-in person: answered with a redirect to the log-in page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def get_app(request: Request) -> App:
    return request.app.state.shuoshi  # type: ignore[no-any-return]


AppDep = Annotated["App", Depends(get_app)]


def get_db(request: Request) -> Iterator[Session]:
    with Session(get_app(request).engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]


def csrf_token(request: Request) -> str:
    """This browser session's CSRF token (made on first use), put in every form."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def get_options(request: Request) -> AdminOptions:
    return request.app.state.options  # type: ignore[no-any-return]


def optional_viewer(request: Request, session: SessionDep) -> Viewer | None:
    app = get_app(request)
    now = app.clock.now()
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return token_viewer(session, auth[7:], now)
    return session_viewer(session, dict(request.session), now=now)


OptionalViewer = Annotated[Viewer | None, Depends(optional_viewer)]


def page_viewer(request: Request, viewer: OptionalViewer) -> Viewer:
    if viewer is None or viewer.via != "session":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return viewer


PageViewer = Annotated[Viewer, Depends(page_viewer)]


def api_viewer(viewer: OptionalViewer) -> Viewer:
    if viewer is None:
        raise HTTPException(
            status_code=401,
            detail="需要登录或 API 令牌（Authorization: Bearer …）",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return viewer


ApiViewer = Annotated[Viewer, Depends(api_viewer)]


FOREIGN_ORIGIN = "这个请求来自别的网站，已拒绝。请在说事后台自己的页面上操作。"


async def check_csrf(request: Request) -> None:
    """Every form carries the session's token, and comes from a page of this site (its Origin
    or Referer); anything else changes nothing."""
    if not same_site(request, get_options(request)):
        raise HTTPException(status_code=403, detail=FOREIGN_ORIGIN)
    form = await request.form()
    if not csrf_ok(request.session.get("csrf"), form.get("csrf")):
        raise HTTPException(status_code=403, detail="表单已过期或来源不明，请刷新页面后再试。")


Csrf = Depends(check_csrf)


def flash(request: Request, text: str, ok: bool = True) -> None:
    request.session["flash"] = [ok, text]


def render(
    request: Request,
    template: str,
    viewer: Viewer | None,
    *,
    show_flash: bool = True,
    **context: Any,
) -> Any:
    app = get_app(request)
    message = (
        request.session.pop("flash", None) if show_flash and "flash" in request.session else None
    )
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        template,
        {
            "viewer": viewer,
            "csrf": csrf_token(request),
            "flash": message,
            "chat_enabled": chat_enabled(app),
            "now": app.clock.now(),
            **context,
        },
    )


def reads(viewer: Viewer | None, issue: Any) -> bool:
    """Whether this viewer may read the issue's own words (text, notes, result, attachments):
    handlers.privacy.sees_text, the one rule. `issue` is an Issue or a list row; None: someone
    outside (Open311)."""
    return sees_text(
        privacy_kind(issue.kind, bool(getattr(issue, "group_stub", False))),
        reporter=issue.reporter,
        owner_id=issue.owner_id,
        village_id=issue.village_id,
        viewer_key=viewer.key if viewer else None,
        viewer_person_id=viewer.person_id if viewer else None,
        viewer_role=viewer.role if viewer else None,
        viewer_village_id=viewer.village_id if viewer else None,
    )


def reader_of(viewer: Viewer) -> Reader:
    return Reader(
        key=viewer.key,
        person_id=viewer.person_id,
        role=viewer.role,
        village_id=viewer.village_id,
        sees_text=sees_text,
    )


def chat_enabled(app: App) -> bool:
    """模拟群聊 speaks as anyone in the grid, so it is on only where no real platform is
    configured (or when switched on explicitly)."""
    s = app.settings
    if s.admin_chat is not None:
        return s.admin_chat
    return not (s.telegram_bot_token or s.wechaty_puppet_service_endpoint)


# --- reading the filter ----------------------------------------------------------------------


def clean(value: str) -> str:
    """A typed value without what the database cannot store or search (NUL, other control
    characters, unpaired surrogates)."""
    return "".join(
        ch for ch in value if ch >= " " and ch != "\x7f" and not "\ud800" <= ch <= "\udfff"
    )


def read_int(value: str | None) -> int | None:
    """A number as an id or page may be: ASCII digits, within what the database keeps."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 12 or not value.lstrip("-").isascii():
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if -MAX_ID <= number <= MAX_ID else None


def read_date(value: str | None) -> date | None:
    """A YYYY-MM-DD from a query string; None when there is none (or one before 1900 or after
    2999: no bound at all, for a filter)."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


def local_midnight(day: date, tz: Any) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def read_filter(params: Any, viewer: Viewer, tz: Any) -> IssueFilter:
    """The list filter from query parameters; unknown values are ignored, never an error."""
    kind = params.get("kind") or None
    status = params.get("status") or None
    sort = params.get("sort") or "new"
    day_from, day_to = read_date(params.get("from")), read_date(params.get("to"))
    return IssueFilter(
        villages=viewer.villages,
        village_id=read_int(params.get("village")),
        group_id=read_int(params.get("group")),
        kind=kind if kind in (*KINDS, Kind.UNSORTED) else None,
        status=status if status in (*(s.value for s in Status), ACTIVE) else None,
        owner_id=read_int(params.get("owner")),
        overdue=params.get("overdue") in ("1", "true", "on"),
        created_from=local_midnight(day_from, tz) if day_from else None,
        created_to=local_midnight(day_to, tz) + timedelta(days=1) if day_to else None,
        text=clean(params.get("q") or "").strip()[:100],
        sort=sort if sort in SORTS else "new",
        reader=reader_of(viewer),
    )


def page_args(params: Any, default: int = PER_PAGE) -> tuple[int, int]:
    page = min(MAX_PAGE, max(1, read_int(params.get("page")) or 1))
    per_page = min(MAX_PER_PAGE, max(1, read_int(params.get("per_page")) or default))
    return page, per_page


# --- template helpers ------------------------------------------------------------------------


def make_templates(tz: Any) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env

    def local(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return dt.astimezone(tz).strftime(fmt) if dt else ""

    def isotime(value: str) -> str:
        try:
            return local(datetime.fromisoformat(value))
        except ValueError:
            return value

    env.filters["local"] = local
    env.filters["isotime"] = isotime
    env.filters["mask"] = mask
    env.filters["short"] = short
    env.filters["percent"] = lambda v: "—" if v is None else f"{v * 100:.0f}%"
    env.globals["labels"] = labels
    return templates
