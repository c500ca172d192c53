"""The 说事码's web pages (issue 19, part 1): the phone page a village's QR poster opens (no
log-in, no app), the tracking page each report links to, and the admin's 说事码 page (posters,
switching a village's code off).

The phone page is a small door of its own, the "qrcode" platform: it translates the form into
the neutral message (ports.messages.Incoming) through handlers.reports, which decides whether
it is taken, and hands it to handlers.intake like any door; a rating pressed on the tracking
page is the same button press the chat sends. Nothing is decided here.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi import Path as InPath
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from admin import poster
from admin.security import address_key, client_address, same_site
from admin.web import (
    FOREIGN_ORIGIN,
    MAX_ID,
    AppDep,
    Csrf,
    PageViewer,
    SessionDep,
    clean,
    flash,
    get_app,
    get_options,
    render,
)
from handlers import reports, texts, voice
from handlers.deps import Deps
from handlers.intake import receive
from handlers.voice import hear, wants_words
from ports.asr import SpeechToText
from ports.messages import Incoming
from ports.runtime import Runtime
from storage import people
from storage import reports as report_rows
from storage.models import Role

router = APIRouter(include_in_schema=False)
# Every photo and the recording at their limits, and room for the words and the form itself.
FORM_MAX_BYTES = reports.MAX_PHOTOS * reports.PHOTO_MAX_BYTES + reports.VOICE_MAX_BYTES + (1 << 20)
Token = Annotated[str, InPath(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
VillageName = Annotated[str, InPath(min_length=1, max_length=64)]
VillageId = Annotated[int, InPath(ge=1, le=MAX_ID)]


def mount(web: FastAPI, app: Runtime[Deps]) -> None:
    """The pages on the admin app and the issue page's 来源 (group, private, 说事码). The
    platform's transport (admin/report_transport.py) is registered by the root."""
    web.include_router(router)
    web.state.templates.env.globals["report_origin"] = reports.origin_of


def _group(request: Request) -> str:
    """The group a poster was made for (?g=), as typed into a URL: cleaned, bounded."""
    return clean(request.query_params.get("g", ""))[:64]


def _base_url(request: Request) -> str:
    """Where people reach this site: ADMIN_PUBLIC_URL, else the address this request used."""
    public = get_app(request).settings.admin_public_url.strip()
    return public or str(request.base_url)


# --- the phone page ----------------------------------------------------------------------------


def _form_page(
    request: Request, info: reports.PageInfo, *, status: int = 200, **context: Any
) -> Response:
    response: Response = render(
        request,
        "report_form.html",
        None,
        show_flash=False,
        info=info,
        max_photos=reports.MAX_PHOTOS,
        photo_mb=reports.PHOTO_MAX_BYTES >> 20,
        max_text=reports.MAX_TEXT,
        **context,
    )
    response.status_code = status
    return response


@router.get("/s/{village}")
def report_page(request: Request, village: VillageName, session: SessionDep) -> Response:
    info = reports.page_info(session, clean(village), _group(request))
    if info is None:
        raise HTTPException(status_code=404, detail=texts.QR_VILLAGE_UNKNOWN)
    return _form_page(request, info, typed={})


async def _read(upload: UploadFile, limit: int) -> bytes:
    """At most the limit and one byte: enough to tell that a file is too big."""
    return await upload.read(limit + 1)


def same_origin(request: Request) -> None:
    """No log-in and so no CSRF token here: a report or a rating must still come from a page
    of this site (its Origin or Referer), checked before anything else is read."""
    if not same_site(request, get_options(request)):
        raise HTTPException(status_code=403, detail=FOREIGN_ORIGIN)


SameOrigin = Depends(same_origin)


@router.post("/s/{village}", dependencies=[SameOrigin])
async def report_submit(request: Request, village: VillageName, app: AppDep) -> Response:
    # A body larger than every allowed file together is refused before it is read: the form
    # parser would first store all of it (the reverse proxy's own limit is the other guard).
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > FORM_MAX_BYTES:
        with Session(app.engine) as session:
            info = reports.page_info(session, clean(village), _group(request))
        if info is None:
            raise HTTPException(status_code=404, detail=texts.QR_VILLAGE_UNKNOWN)
        mb = FORM_MAX_BYTES >> 20
        return _form_page(request, info, status=413, error=texts.QR_TOO_BIG.format(mb=mb), typed={})
    try:
        form = await request.form(max_files=reports.MAX_PHOTOS + 4, max_fields=20)
    except StarletteHTTPException as exc:
        # Too many photos picked at once, or a form cut off on the way: said in Chinese on the
        # page (the parser's own answer is English JSON).
        too_many = "files" in str(exc.detail).lower()
        reason = (
            texts.QR_TOO_MANY_PHOTOS.format(limit=reports.MAX_PHOTOS)
            if too_many
            else texts.QR_FORM_BROKEN
        )
        with Session(app.engine) as session:
            info = reports.page_info(session, clean(village), _group(request))
        if info is None:
            raise HTTPException(status_code=404, detail=texts.QR_VILLAGE_UNKNOWN) from exc
        return _form_page(request, info, status=400, error=reason, typed={})
    uploads = []
    for field, kind, limit in (
        ("photo", "photo", reports.PHOTO_MAX_BYTES),
        ("voice", "voice", reports.VOICE_MAX_BYTES),
    ):
        for item in form.getlist(field):
            if isinstance(item, UploadFile) and (item.filename or item.size):
                data = await _read(item, limit)
                if data:
                    uploads.append(reports.Upload(kind, data, item.filename or ""))

    def text(name: str, limit: int = 2000) -> str:
        value = form.get(name)
        return value[:limit] if isinstance(value, str) else ""

    village, group = clean(village), _group(request)
    typed = {"text": text("text"), "team": text("team", 40), "name": text("name", 40)}
    typed["phone"] = text("phone", 40)
    report = reports.ReportForm(village=village, group=group, uploads=tuple(uploads), **typed)
    address = address_key(client_address(request, get_options(request)))
    decided = await run_in_threadpool(reports.accept, app.engine, app.deps, report, address)
    if isinstance(decided, reports.Refusal):
        with Session(app.engine) as session:
            info = reports.page_info(session, village, group)
        if info is None:
            raise HTTPException(status_code=404, detail=decided.reason)
        return _form_page(
            request,
            info,
            status=429 if decided.limited else 400,
            error=decided.reason,
            typed=typed,
        )
    root = Path(app.settings.data_dir)
    for relative, data in decided.files:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    message = await _heard(app.asr, decided)
    await run_in_threadpool(receive, app.engine, app.deps, message)
    await app.sender().flush()
    return RedirectResponse(f"/s/t/{decided.token}", status_code=303)


async def _heard(asr: SpeechToText | None, decided: reports.Accepted) -> Incoming:
    """A report that is only a recording, with the words spoken in it (handlers.voice), when
    speech to text is on; as it was otherwise (registered 待分类 for its owner to listen to)."""
    message = decided.message
    if not wants_words(asr, message):
        return message
    for relative, data in decided.files:
        name = PurePosixPath(relative).name
        if name.startswith(voice.VOICE):
            ext = name.rsplit(".", 1)[-1]
            return await hear(asr, replace(message, voice=voice.sound(data, f".{ext}")))
    return message


# --- the tracking page -------------------------------------------------------------------------


@router.get("/s/t/{token}")
def track_page(request: Request, token: Token, session: SessionDep, app: AppDep) -> Response:
    found = reports.tracking(session, app.deps, token)
    if found is None:
        raise HTTPException(status_code=404, detail="没有这条反映，请检查网址。")
    response: Response = render(
        request, "report_track.html", None, show_flash=False, t=found, token=token
    )
    # The link is the only key to the page: never sent on to another site, never cached.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@router.post("/s/t/{token}/rate", dependencies=[SameOrigin])
async def track_rate(
    request: Request, token: Token, app: AppDep, choice: Annotated[int, Form()]
) -> Response:

    def press() -> None:
        with Session(app.engine) as session:
            message = reports.rating_message(
                session, app.deps, token, choice, f"rate-{secrets.token_hex(6)}"
            )
        if message is not None:
            receive(app.engine, app.deps, message)

    await run_in_threadpool(press)
    await app.sender().flush()
    return RedirectResponse(f"/s/t/{token}", status_code=303)


# --- the admin's 说事码 page -------------------------------------------------------------------


def _may_manage(viewer: Any, village_id: int) -> bool:
    """The village's 书记 and the town's leaders print its poster and switch its code."""
    return viewer.role == Role.TOWN_LEADER or (
        viewer.role == Role.SECRETARY and viewer.village_id == village_id
    )


@router.get("/qrcode")
def qrcode_page(request: Request, viewer: PageViewer, session: SessionDep) -> Response:
    off = report_rows.switched_off(session=session)
    groups = people.groups(session=session, village_ids=viewer.villages)
    villages = [
        {
            "id": v.id,
            "name": v.name,
            "on": v.id not in off,
            "groups": [g.name for g in groups if g.village_id == v.id],
            "url": poster.report_url(_base_url(request), v.name),
        }
        for v in people.villages(session=session, ids=viewer.villages)
        if _may_manage(viewer, v.id)
    ]
    # Without ADMIN_PUBLIC_URL the code holds the address this page was opened at (often
    # 127.0.0.1 through a tunnel, or a LAN address): say so before a poster is printed.
    unset = not get_app(request).settings.admin_public_url.strip()
    return render(  # type: ignore[no-any-return]
        request,
        "report_admin.html",
        viewer,
        nav_page="qrcode",
        villages=villages,
        base_unset=_base_url(request) if unset else "",
    )


def _managed(session: Session, viewer: Any, village_id: int) -> Any:
    village = next((v for v in people.villages(session=session, ids=(village_id,))), None)
    if village is None or not _may_manage(viewer, village_id):
        raise HTTPException(status_code=404, detail="没有这个村，或者您不能管理它的说事码。")
    return village


@router.get("/qrcode/{village_id}/poster.{fmt}")
def qrcode_poster(
    request: Request, village_id: VillageId, fmt: str, viewer: PageViewer, session: SessionDep
) -> Response:
    village = _managed(session, viewer, village_id)
    if fmt not in poster.FORMATS:
        raise HTTPException(status_code=404, detail="海报只有 PDF 和 PNG 两种。")
    made = poster.poster_of(
        session, _base_url(request), village.name, clean(request.query_params.get("group", ""))[:64]
    )
    if made is None:
        raise HTTPException(status_code=404, detail="没有这个群。")
    body = poster.render(made, fmt)
    name = quote(f"{village.name}说事码.{fmt}")
    return Response(
        body,
        media_type="application/pdf" if fmt == "pdf" else "image/png",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )


@router.post("/qrcode/{village_id}/switch", dependencies=[Csrf])
def qrcode_switch(
    request: Request,
    village_id: VillageId,
    viewer: PageViewer,
    session: SessionDep,
    app: AppDep,
    enabled: Annotated[str, Form()],
) -> Response:
    village = _managed(session, viewer, village_id)
    on = enabled == "1"
    report_rows.set_village_enabled(
        session=session, village_id=village_id, enabled=on, at=app.clock.now(), by=viewer.name
    )
    session.commit()
    flash(request, f"{village.name}的说事码已{'开启' if on else '关闭'}。")
    return RedirectResponse("/qrcode", status_code=303)
