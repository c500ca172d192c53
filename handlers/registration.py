"""Registering a matter (理事定事) and answering where a message came from: the steps a post
takes once it is decided to be a matter — its village, a duplicate or a new issue, the
acknowledgment in its chat, the owner told — shared by intake, a cadre's decision on a kept post
(handlers/register.py), a triage card's answer and the admin's split (handlers/merging.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from handlers import actions, texts
from handlers.actions import Actor, Ctx
from handlers.directory import GroupInfo
from handlers.outbox import enqueue, to_person
from handlers.privacy import short
from storage import issues, people, records, writes
from storage.models import (
    KINDS,
    ChatGroup,
    Inbound,
    Issue,
    Kind,
    Pending,
    Seen,
)

log = logging.getLogger(__name__)


@dataclass
class Post:
    """The inbox row being handled, as plain data (an ORM object on every message cost more
    than its SQL). A new message's row is written once, at the end of its transaction, with
    what was decided (`id` None until then); a resumed one is updated."""

    id: int | None
    platform: str
    chat: str
    message_id: str
    private: bool
    sender: str
    sender_name: str
    text: str
    reply_to: str | None
    button: str | None
    attachments: str
    received_at: datetime
    status: str = "new"
    label: str | None = None
    confidence: float | None = None
    issue_id: int | None = None


# What a handler reads or sets of the message it handles: a Post here, a loaded inbox row when
# the admin registers a kept post (handlers.register) or an edit is applied (handlers.edits).
Row = Post | Inbound


def inbox_values_of(row: Post) -> dict[str, Any]:
    return {f.name: getattr(row, f.name) for f in fields(Post) if f.name != "id"}


def recorded_id(ctx: Ctx, row: Row) -> int:
    """The message's inbox id, writing its row now if it has none yet (something being
    written in this transaction must point at it)."""
    if row.id is None:
        assert isinstance(row, Post)
        row.id = writes.insert_inbound(ctx.conn, inbox_values_of(row))
    return row.id


def actor_of(ctx: Ctx, row: Row) -> Actor:
    person = ctx.deps.directory.person(ctx.session, row.sender)
    return Actor(key=row.sender, name=row.sender_name, person=person)


def group_of(ctx: Ctx, row: Row) -> GroupInfo | None:
    return ctx.deps.directory.group(ctx.session, f"{row.platform}:{row.chat}")


def reply(ctx: Ctx, row: Row, text: str, *, issue_id: int | None = None, **kw: object) -> None:
    """Answer where the message came from; in a group, addressed to its sender."""
    enqueue(
        ctx.session,
        now=ctx.now,
        platform=row.platform,
        chat=row.chat,
        text=text,
        private=row.private,
        recipient=row.sender_name if row.private else recipient(ctx, row),
        mention=None if row.private else row.sender,
        issue_id=issue_id,
        reply_to=row.message_id,
        **kw,  # type: ignore[arg-type]
    )


def recipient(ctx: Ctx, row: Row) -> str:
    group = group_of(ctx, row)
    return group.name if group else row.chat


def register(
    ctx: Ctx,
    row: Row,
    group: GroupInfo | None,
    kind: Kind,
    text: str,
    media: str = "",
    *,
    group_stub: bool = False,
) -> str:
    village_id = group.village_id if group else village_of_private(ctx, row)
    if village_id is None:
        records.put(
            ctx.session,
            Pending(
                sender=row.sender,
                action="choose_village",
                inbound_id=recorded_id(ctx, row),
                at=ctx.now,
            ),
        )
        reply(ctx, row, texts.ASK_VILLAGE.format(names=village_names(ctx)))
        return "unsure"
    if kind in KINDS and ctx.deps.duplicates is not None and text:
        same = ctx.deps.duplicates.find(
            ctx.session, village_id=village_id, text=text, kind=kind, now=ctx.now
        )
        if same is not None:
            return duplicate(ctx, row, same, text)
    issue = actions.create_issue(
        ctx,
        village_id=village_id,
        group_id=group.id if group else None,
        kind=kind,
        text=text,
        reporter_key=row.sender,
        reporter_name=row.sender_name,
        reporter_chat=None if row.private else f"{row.platform}:{row.chat}",
        attachments=row.attachments,
        group_stub=group_stub,
    )
    row.issue_id = issue.id
    acknowledge(ctx, row, issue, media)
    return "matter"


def acknowledge(ctx: Ctx, row: Row, issue: Issue, media: str) -> None:
    owner = actions.owner_of(ctx, issue)
    owner_name = owner.name if owner else texts.UNASSIGNED
    due = ctx.due_text(issue.due_at)
    media_name = texts.MEDIA_NAMES.get(media, media)
    if row.private:
        ack = texts.ACK_PRIVATE.format(n=issue.number, kind=issue.kind, owner=owner_name, due=due)
    elif issue.kind == Kind.UNSORTED:
        ack = texts.ACK_UNSORTED.format(
            name=row.sender_name, media=media_name, n=issue.number, owner=owner_name, due=due
        )
    elif actions.is_public(issue):
        ack = texts.ACK_PUBLIC.format(
            n=issue.number, kind=issue.kind, summary=short(issue.text), owner=owner_name, due=due
        )
    else:
        ack = texts.ACK_STUB.format(n=issue.number, kind=issue.kind, owner=owner_name, due=due)
    claim = [(texts.BUTTON_CLAIM, f"claim:{issue.number}")] if not row.private else []
    reply(ctx, row, ack, issue_id=issue.id, buttons=claim)
    if owner:
        where = texts.IN_PRIVATE if row.private else recipient(ctx, row)
        actions.notify_owner_new(ctx, issue, owner, where, media_name)


def duplicate(ctx: Ctx, row: Row, issue: Issue, text: str) -> str:
    issues.add_report(session=ctx.session, issue=issue)  # counted in the database
    actions.event(ctx, issue, "report", row.sender_name or row.sender, text)
    row.issue_id = issue.id
    reply(ctx, row, texts.DUPLICATE.format(n=issue.number, count=issue.reports), issue_id=issue.id)
    owner = actions.owner_of(ctx, issue)
    if owner:
        to_person(
            ctx.session,
            owner,
            texts.OWNER_DUPLICATE.format(n=issue.number, count=issue.reports, text=short(text, 40)),
            now=ctx.now,
            directory=ctx.deps.directory,
            prefer_platform=row.platform,
            issue_id=issue.id,
            category="notice",
        )
    return "duplicate"


def village_of_private(ctx: Ctx, row: Row) -> int | None:
    # Read anew: remember_seen writes with Core, past any copy the session holds.
    seen = records.by_id(ctx.session, Seen, row.sender, fresh=True)
    if seen is not None:
        group = records.by_id(ctx.session, ChatGroup, seen.group_id)
        if group is not None and group.active:
            return group.village_id
    person = actor_of(ctx, row).person
    if person is not None and person.village_id is not None:
        return person.village_id
    villages = people.active_villages(session=ctx.session)
    return villages[0].id if len(villages) == 1 else None


def village_names(ctx: Ctx) -> str:
    return "、".join(v.name for v in people.active_villages(session=ctx.session))


def remember_seen(ctx: Ctx, sender: str, group_id: int) -> None:
    if ctx.deps.directory.seen_changed(sender, group_id):
        writes.remember_seen(ctx.conn, sender, group_id, ctx.now)
