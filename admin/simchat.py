"""模拟群聊: the local platform as a web page. Pick a group and a person, post, press the bot's
buttons, and see its replies in the group and in that person's private chat. Posts go through
the same `handlers.intake.receive` as every platform; the bot's messages are the outbox rows
the local platform's transport "delivers" (they stay in the database, which is what the page
shows). The root registers that transport when the local platform is served.

It speaks for people, so it is on only where no real platform is configured and the admin
listens on loopback (unless ADMIN_CHAT=true; see `admin.web.chat_enabled`), and only for a
logged-in 书记 or 镇领导: a 书记 sees and speaks in their own village's groups, the 镇领导
everywhere; each speaks as themself or as a test villager, never as another cadre."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from admin.auth import Viewer
from admin.web import (
    MAX_ID,
    Csrf,
    OptionalViewer,
    chat_enabled,
    flash,
    get_app,
    page_viewer,
    render,
)
from handlers import texts
from handlers.deps import Deps
from handlers.intake import Handled, receive
from ports.messages import Incoming
from ports.runtime import Runtime
from storage import inbox, outbox, people, records
from storage.models import ChatGroup, Outbox, Role

PLATFORM = "local"
VILLAGERS = ("张大爷", "李大妈", "王婶", "孙奶奶", "老周")
TEXT_LIMIT = 2000


def _enabled(request: Request) -> Runtime[Deps]:
    app = get_app(request)
    if not chat_enabled(app):
        raise HTTPException(status_code=404, detail="模拟群聊只在没有接真实平台时打开。")
    return app


NOT_FOR_YOU = "模拟群聊只给书记和镇领导用：在这里说的话就算您在群里说的（认领、办结都算数）。"
OTHER_VILLAGE = "只能在本村的群里，以您自己或测试村民的身份说话，不能冒充别的干部。"


def chat_viewer(request: Request, viewer: OptionalViewer) -> Viewer:
    """A logged-in 书记 or 镇领导 (others: the log-in page, or refused)."""
    viewer = page_viewer(request, viewer)
    if viewer.role not in (Role.SECRETARY, Role.TOWN_LEADER):
        raise HTTPException(status_code=403, detail=NOT_FOR_YOU)
    return viewer


ChatViewer = Annotated[Viewer, Depends(chat_viewer)]
# On the router: no route under /chat answers anyone else, whatever routes are added later.
router = APIRouter(
    prefix="/chat",
    include_in_schema=False,
    dependencies=[Depends(_enabled), Depends(chat_viewer)],
)
_flush_locks: dict[int, asyncio.Lock] = {}


async def deliver(app: Runtime[Deps]) -> None:
    """Send what the bot queued for the local platform now, so the page shows it at once."""
    if PLATFORM not in app.transports:
        return
    lock = _flush_locks.setdefault(id(app), asyncio.Lock())
    async with lock:
        await app.sender().flush()


def local_groups(
    session: Session, villages: tuple[int, ...] | None = None
) -> list[tuple[ChatGroup, str, str]]:
    """Groups reachable on the local platform (of these villages; None: all): (group, its
    local chat id, village name)."""
    rows = people.platform_groups(session=session, platform=PLATFORM, village_ids=villages)
    return [(g, key.split(":", 1)[1], village) for g, key, village in rows]


def own_name(session: Session, viewer: Viewer) -> str:
    """The name the viewer speaks as themself: their local account's, else their grid name."""
    keys = people.person_keys(session=session, person_id=viewer.person_id)
    local = next((k for k in keys if k.startswith(f"{PLATFORM}:")), None)
    return local.split(":", 1)[1] if local else viewer.name


def may_speak_as(session: Session, viewer: Viewer, name: str) -> bool:
    """Whether this viewer may speak as (and read the private chat of) this name: themself, or
    a test villager — a name no grid person has or goes by — last seen in one of the viewer's
    villages' groups (or never seen). Never another cadre: what they say in the chat counts
    as said by them (claims, closes, ratings)."""
    if name == own_name(session, viewer):
        return True
    key = f"{PLATFORM}:{name}"
    if people.key_owner(session=session, key=key) is not None:
        return False
    if people.people_named(session=session, name=name):
        return False
    if viewer.villages is None:
        return True
    seen = people.seen_village(session=session, sender=key)
    return seen is None or seen in viewer.villages


def _name(value: str | None) -> str:
    return "".join(ch for ch in (value or "") if ch.isprintable()).strip()[:20]


def _state(request: Request, session: Session, viewer: Viewer) -> dict[str, Any]:
    groups = local_groups(session, viewer.villages)
    chosen = request.query_params.get("group") or ""
    chat = next((c for _, c, _ in groups if c == chosen), groups[0][1] if groups else "")
    name = _name(request.query_params.get("as")) or next(
        (n for n in VILLAGERS if may_speak_as(session, viewer, n)), own_name(session, viewer)
    )
    if not may_speak_as(session, viewer, name):
        raise HTTPException(status_code=403, detail=OTHER_VILLAGE)
    return {"groups": groups, "chat": chat, "name": name}


def _panes(session: Session, chat: str, name: str) -> dict[str, Any]:
    return {
        "group_messages": inbox.local_conversation(session, chat=chat, private=False),
        "private_messages": inbox.local_conversation(session, chat=name, private=True),
        "buttons_of": outbox.buttons_of,
    }


@router.get("")
def chat_page(request: Request, viewer: ChatViewer) -> Response:
    app = get_app(request)
    with Session(app.engine) as session:
        state = _state(request, session, viewer)
        return render(
            request,
            "chat.html",
            viewer,
            me=own_name(session, viewer),
            villagers=[n for n in VILLAGERS if may_speak_as(session, viewer, n)],
            here=urlencode({"group": state["chat"], "as": state["name"]}),
            **state,
            **_panes(session, state["chat"], state["name"]),
        )


@router.get("/feed")
def chat_feed(request: Request, viewer: ChatViewer) -> Response:
    """Both conversations as HTML, for the page to refresh itself."""
    app = get_app(request)
    with Session(app.engine) as session:
        state = _state(request, session, viewer)
        return render(
            request,
            "chat_panes.html",
            None,
            show_flash=False,
            here=urlencode({"group": state["chat"], "as": state["name"]}),
            **state,
            **_panes(session, state["chat"], state["name"]),
        )


def _back(chat: str, name: str) -> RedirectResponse:
    return RedirectResponse(
        "/chat?" + urlencode({"group": chat, "as": name}) + "#end", status_code=303
    )


@router.post("/post", dependencies=[Csrf])
async def chat_post(
    request: Request,
    viewer: ChatViewer,
    name: Annotated[str, Form()],
    text: Annotated[str, Form()],
    group: Annotated[str, Form()] = "",
    private: Annotated[str, Form()] = "",
    reply_to: Annotated[str, Form()] = "",
) -> Response:
    app = get_app(request)
    name = _name(name)
    if not name or not text.strip():
        flash(request, "请写上姓名和内容。", ok=False)
        return _back(group, name)
    in_private = private in ("1", "on", "true")
    with Session(app.engine) as session:
        allowed = may_speak_as(session, viewer, name) and (
            in_private or any(c == group for _, c, _ in local_groups(session, viewer.villages))
        )
    if not allowed:
        raise HTTPException(status_code=403, detail=OTHER_VILLAGE)
    msg = Incoming(
        platform=PLATFORM,
        chat=name if in_private else group,
        sender=name,
        sender_name=name,
        text=text[:TEXT_LIMIT],
        message_id=f"web-{secrets.token_hex(6)}",
        at=app.clock.now(),
        private=in_private,
        reply_to=reply_to or None,
    )
    await run_in_threadpool(receive, app.engine, app.deps, msg)
    await deliver(app)
    return _back(group, name)


@router.post("/press", dependencies=[Csrf])
async def chat_press(
    request: Request,
    viewer: ChatViewer,
    name: Annotated[str, Form()],
    message: Annotated[int, Form(ge=1, le=MAX_ID)],
    label: Annotated[str, Form()],
    group: Annotated[str, Form()] = "",
) -> Response:
    app = get_app(request)
    name = _name(name)

    def press() -> Handled | None:
        with Session(app.engine) as session:
            row = records.by_id(session, Outbox, message)
            if row is None or row.platform != PLATFORM or row.status != "sent":
                return None
            where = (
                may_speak_as(session, viewer, row.chat)
                if row.private
                else any(c == row.chat for _, c, _ in local_groups(session, viewer.villages))
            )
            if not (where and may_speak_as(session, viewer, name)):
                raise HTTPException(status_code=403, detail=OTHER_VILLAGE)
            data = dict(outbox.buttons_of(row)).get(label)
            if data is None:
                return None
            return receive(
                app.engine,
                app.deps,
                Incoming(
                    platform=PLATFORM,
                    chat=row.chat,
                    sender=name,
                    sender_name=name,
                    text="",
                    message_id=f"web-cb-{secrets.token_hex(6)}",
                    at=app.clock.now(),
                    private=row.private,
                    reply_to=row.platform_message_id,
                    button=data,
                ),
            )

    handled = await run_in_threadpool(press)
    if handled is None:
        flash(request, texts.BUTTON_STALE, ok=False)
    elif handled.answer and handled.alert:
        flash(request, handled.answer, ok=False)
    await deliver(app)
    return _back(group, name)
