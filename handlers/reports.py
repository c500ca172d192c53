"""The 说事码 (issue 19, part 1): a report from a village's QR poster, by someone who need not
be in any group. The phone page (admin/report.py, a small door) hands the form here; this
decides whether it is taken (the village's switch, sizes and types of files, the abuse limits)
and records it, and the door hands the neutral message this returns to intake like any other
door: registered or kept, exactly as a private message to the bot. What the person then sees
on their tracking page is decided here too: nothing of anyone else, nothing more than the
group would read.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from handlers import actions, texts
from handlers.actions import Ctx
from handlers.deps import Deps
from handlers.privacy import mask, short
from ports.hygiene import clean_name
from ports.messages import Attachment, Incoming
from storage import people, records, reports, writes
from storage.db import session_scope
from storage.models import Status, Village
from storage.reports import REPORT_MESSAGE

PLATFORM = "qrcode"  # the inbox, the issue's reporter ("qrcode:<token>") and the outbox
MAX_TEXT = 1000
MAX_TEAM = 20
MAX_NAME = 20
MAX_PHOTOS = 3
PHOTO_MAX_BYTES = 5 * 1024 * 1024  # a phone's photo is 2–4 MB
VOICE_MAX_BYTES = 10 * 1024 * 1024  # several minutes of a phone's recording
# Abuse limits: a village's poster hangs in public, so anyone can send anything; these keep
# one person (one phone or one network address) from flooding the grid members.
PER_ADDRESS_HOUR = 5
PER_ADDRESS_DAY = 20
PER_PHONE_DAY = 5
_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{9,11}|\d{7,8})$")


@dataclass(frozen=True)
class Upload:
    kind: str  # photo or voice
    data: bytes  # at most the limit and one byte: the door reads no more
    filename: str = ""


@dataclass(frozen=True)
class ReportForm:
    """The phone page's form as typed."""

    village: str
    group: str = ""
    team: str = ""
    text: str = ""
    name: str = ""
    phone: str = ""
    uploads: tuple[Upload, ...] = ()


@dataclass(frozen=True)
class Refusal:
    reason: str  # shown to the person, in Chinese
    limited: bool = False  # an abuse limit (try later), not a mistake in the form


@dataclass(frozen=True)
class Accepted:
    """A report taken: its files to write under the data folder (relative path, bytes), then
    its message for intake."""

    token: str
    files: tuple[tuple[str, bytes], ...]
    message: Incoming


@dataclass(frozen=True)
class PageInfo:
    """What the phone page offers: the village, its 组 (free text when the grid lists none)."""

    village: str
    group: str
    teams: list[str]
    enabled: bool


def sniff(kind: str, head: bytes) -> str | None:
    """The file's type from its first bytes (what a browser says it is can be anything):
    the extension it is stored with, or None when it is not a photo / recording."""
    if kind == "photo":
        if head.startswith(b"\xff\xd8\xff"):
            return "jpg"
        if head.startswith(b"\x89PNG\r\n\x1a\n"):
            return "png"
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return "webp"
        if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
            return "heic"
        return None
    if kind == "voice":
        if head.startswith(b"OggS"):
            return "ogg"
        if head.startswith(b"\x1a\x45\xdf\xa3"):  # WebM (Chrome's MediaRecorder, Android)
            return "webm"
        if head[4:8] == b"ftyp":  # m4a / mp4 / 3gp (iPhone's and many Android recorders)
            return "m4a"
        if head.startswith(b"#!AMR"):
            return "amr"
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            return "wav"
        if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
            return "mp3"
        if head[:2] in (b"\xff\xf1", b"\xff\xf9"):
            return "aac"
    return None


def phone_digits(typed: str) -> str | None:
    """The phone as digits ("" when none was typed); None when it is not a phone number."""
    # NFKC: a Chinese keyboard may type full-width digits (１３８…); +86 / 0086 is the
    # country's own code, dropped so that the per-phone limit sees one number.
    digits = re.sub(r"[\s\-()（）]", "", unicodedata.normalize("NFKC", typed).strip())
    if not digits:
        return ""
    digits = re.sub(r"^(\+|00)86(?=1[3-9]\d{9}$)", "", digits)
    return digits if _PHONE.match(digits) else None


def page_info(session: Session, village_name: str, group: str = "") -> PageInfo | None:
    village = people.village_by_name(session=session, name=village_name)
    if village is None or village.id is None:
        return None
    known_group = group and reports.group_named(session=session, village_id=village.id, name=group)
    return PageInfo(
        village=village.name,
        group=group if known_group else "",
        teams=reports.team_names(session=session, village_id=village.id),
        enabled=reports.village_enabled(session=session, village_id=village.id),
    )


def _village(session: Session, name: str) -> Village | Refusal:
    village = people.village_by_name(session=session, name=name)
    if village is None or village.id is None:
        return Refusal(texts.QR_VILLAGE_UNKNOWN)
    if not reports.village_enabled(session=session, village_id=village.id):
        return Refusal(texts.QR_OFF.format(village=village.name))
    return village


def _files(form: ReportForm) -> list[tuple[str, str]] | Refusal:
    """(kind, extension) of each file, or why they are refused."""
    photos = [u for u in form.uploads if u.kind == "photo"]
    if len(photos) > MAX_PHOTOS:
        return Refusal(texts.QR_TOO_MANY_PHOTOS.format(limit=MAX_PHOTOS))
    found = []
    for upload in form.uploads:
        if upload.kind == "photo":
            if len(upload.data) > PHOTO_MAX_BYTES:
                return Refusal(texts.QR_PHOTO_TOO_BIG.format(mb=PHOTO_MAX_BYTES >> 20))
            ext = sniff("photo", upload.data[:16])
            if ext is None:
                return Refusal(texts.QR_BAD_PHOTO.format(name=short(upload.filename, 20)))
        else:
            if len(upload.data) > VOICE_MAX_BYTES:
                return Refusal(texts.QR_VOICE_TOO_BIG.format(mb=VOICE_MAX_BYTES >> 20))
            ext = sniff("voice", upload.data[:16])
            if ext is None:
                return Refusal(texts.QR_BAD_VOICE)
        found.append((upload.kind, ext))
    return found


def _limited(session: Session, now: datetime, address: str, phone: str) -> Refusal | None:
    hour = reports.reports_since(session=session, since=now - timedelta(hours=1), address=address)
    day = reports.reports_since(session=session, since=now - timedelta(days=1), address=address)
    if hour >= PER_ADDRESS_HOUR or day >= PER_ADDRESS_DAY:
        return Refusal(texts.QR_LIMIT_ADDRESS, limited=True)
    if phone:
        count = reports.reports_since(session=session, since=now - timedelta(days=1), phone=phone)
        if count >= PER_PHONE_DAY:
            return Refusal(texts.QR_LIMIT_PHONE.format(count=count), limited=True)
    return None


def accept(engine: Engine, deps: Deps, form: ReportForm, address: str) -> Accepted | Refusal:
    """Check a report and record it (who sent it from where, for the limits; where its sender
    was "seen", so that intake files it under the poster's village), or say why not. Nothing
    is recorded for a refused report."""
    text = form.text.strip()
    if len(text) > MAX_TEXT:
        return Refusal(texts.QR_TOO_LONG.format(limit=MAX_TEXT))
    phone = phone_digits(form.phone[:40])
    if phone is None:
        return Refusal(texts.QR_BAD_PHONE)
    files = _files(form)
    if isinstance(files, Refusal):
        return files
    if not text and not files:
        return Refusal(texts.QR_EMPTY)
    now = deps.clock.now()
    token = secrets.token_urlsafe(18)
    sender = f"{PLATFORM}:{token}"
    team, name = clean_name(form.team, MAX_TEAM).strip(), clean_name(form.name, MAX_NAME).strip()
    with session_scope(engine) as session:
        village = _village(session, form.village)
        if isinstance(village, Refusal):
            return village
        village_id = village.id or 0
        limited = _limited(session, now, address, phone)
        if limited is not None:
            return limited
        group = form.group and reports.group_named(
            session=session, village_id=village_id, name=form.group
        )
        group = group or people.first_group(session=session, village_id=village_id)
        reports.add_report(
            session=session,
            values=dict(
                token=token,
                village_id=village_id,
                group_id=group.id if group else None,
                team=team,
                name=name,
                phone=phone,
                address=address[:80],
                created_at=now,
            ),
        )
        if group is not None and group.id is not None:
            # A private message is filed under the village its sender was last seen in.
            writes.remember_seen(session.connection(), sender, group.id, now)
    stored = tuple(
        (f"{PLATFORM}/{token}/{kind}{i}.{ext}", upload.data)
        for i, ((kind, ext), upload) in enumerate(zip(files, form.uploads, strict=True), 1)
    )
    attachments = [
        Attachment(kind=kind, path=path, file_id=path)
        for (kind, _), (path, _) in zip(files, stored, strict=True)
    ]
    if name or phone:
        attachments.append(
            Attachment(kind="contact", note=texts.QR_CONTACT_NOTE.format(name=name, phone=phone))
        )
    if text and team:
        text = texts.QR_TEAM_TEXT.format(team=team, text=text)
    if text and phone:
        text = texts.QR_PHONE_TEXT.format(text=text, phone=phone)
    message = Incoming(
        platform=PLATFORM,
        chat=token,
        sender=token,
        sender_name=name or texts.QR_ANONYMOUS,
        text=text,
        message_id=REPORT_MESSAGE,
        at=now,
        private=True,
        attachments=tuple(attachments),
    )
    return Accepted(token, stored, message)


# --- the tracking page -------------------------------------------------------------------------


@dataclass(frozen=True)
class Tracking:
    """What the tracking link shows: the report's fate and, once it is an issue, what the
    group would read of it (its words only when the group reads them, masked)."""

    village: str
    received_at: datetime
    state: str  # "issue", "kept" (not registered) or "waiting" (not handled yet)
    note: str = ""  # a sentence for "kept" / "waiting" / a private kind's result
    number: int | None = None
    kind: str = ""
    status: str = ""
    closed: bool = False
    owner: str = ""
    due: str = ""
    summary: str | None = None
    result: str | None = None
    rating: str | None = None
    can_rate: bool = False


def tracking(session: Session, deps: Deps, token: str) -> Tracking | None:
    report = reports.report_by_token(session=session, token=token)
    if report is None:
        return None
    village = records.by_id(session, Village, report.village_id)
    base = dict(village=village.name if village else "", received_at=report.created_at)
    post = reports.report_post(session=session, platform=PLATFORM, token=token)
    if post is None or post.status in ("new", "failed"):
        return Tracking(state="waiting", note=texts.QR_WAITING, **base)  # type: ignore[arg-type]
    issue = reports.issue_by_id(session=session, issue_id=post.issue_id) if post.issue_id else None
    if issue is None:
        return Tracking(state="kept", note=texts.QR_KEPT, **base)  # type: ignore[arg-type]
    ctx = Ctx(session, deps, deps.clock.now())
    public = actions.is_public(issue)
    closed = issue.status == Status.CLOSED
    note = ""
    if closed and not public:
        note = texts.QR_RESULT_PRIVATE.format(kind=issue.kind)
    mine = issue.reporter == f"{PLATFORM}:{token}"
    return Tracking(
        state="issue",
        note=note,
        number=issue.number,
        kind=issue.kind,
        status=texts.STATUS_NAMES.get(issue.status, issue.status),
        closed=closed,
        owner=actions.owner_name(ctx, issue),
        due=ctx.due_text(issue.due_at),
        summary=short(issue.text, 60) if public else None,
        result=mask(issue.result) if public and closed and issue.result else None,
        rating=issue.rating if mine else None,
        can_rate=mine and closed and issue.rating is None,
        **base,  # type: ignore[arg-type]
    )


def rating_message(
    session: Session, deps: Deps, token: str, choice: int, message_id: str
) -> Incoming | None:
    """A rating pressed on the tracking page, as the button press it is (rate:N:1|2|3): intake
    decides it like the buttons under the bot's message (only the reporter, once, when closed)."""
    report = reports.report_by_token(session=session, token=token)
    post = reports.report_post(session=session, platform=PLATFORM, token=token)
    if report is None or post is None or post.issue_id is None or choice not in (1, 2, 3):
        return None
    issue = reports.issue_by_id(session=session, issue_id=post.issue_id)
    if issue is None:
        return None
    return Incoming(
        platform=PLATFORM,
        chat=token,
        sender=token,
        sender_name=report.name or texts.QR_ANONYMOUS,
        text="",
        message_id=message_id,
        at=deps.clock.now(),
        private=True,
        button=f"rate:{issue.number}:{choice}",
    )


def origin_of(reporter: str, reporter_chat: str | None) -> str:
    """Where an issue came from, as the admin names it: 说事码, a group, or a private message."""
    if reporter.startswith(f"{PLATFORM}:"):
        return texts.QR_ORIGIN
    return texts.QR_ORIGIN_GROUP if reporter_chat else texts.QR_ORIGIN_PRIVATE
