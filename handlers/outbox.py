"""Writing outgoing messages as outbox rows, in the same transaction as the change they report."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import bindparam, insert
from sqlmodel import Session, col, select

from handlers.directory import Directory, person_keys
from handlers.privacy import mask
from ports.messages import Button
from storage import writes
from storage.models import ChatGroup, GroupChat, Outbox, Person

# Core statements built once: a reply is queued for nearly every post, and an ORM object with
# its flush costs several times the INSERT itself.
_INSERT = insert(Outbox)
_BY_DEDUPE_KEY = select(Outbox.id).where(col(Outbox.dedupe_key) == bindparam("key"))


def split_key(key: str) -> tuple[str, str]:
    platform, _, ident = key.partition(":")
    return platform, ident


def enqueue(
    session: Session,
    *,
    now: datetime,
    platform: str,
    chat: str,
    text: str,
    private: bool,
    recipient: str = "",
    mention: str | None = None,
    buttons: list[Button] | None = None,
    issue_id: int | None = None,
    reply_to: str | None = None,
    category: str = "reply",
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
) -> int | None:
    """Queue one message; its outbox id. Group texts are masked here, so no caller can forget
    it. With a dedupe_key, a message already queued under that key is not queued again (None).
    The row is written in the caller's transaction, at once, or, in a burst of posts
    (storage.writes.deferred), with the burst's other rows at its end (no id then: None);
    either way rows keep the order in which they were queued. An issue it names must have
    been flushed."""
    conn = session.connection()
    if dedupe_key:
        # The check must see every row queued before, and this row is written at once.
        writes.write_deferred(session)
        if conn.execute(_BY_DEDUPE_KEY, {"key": dedupe_key}).first():
            return None
    values = dict(
        platform=platform,
        chat=chat,
        private=private,
        recipient=recipient,
        mention=mention,
        text=text if private else mask(text),
        buttons=json.dumps(buttons or [], ensure_ascii=False),
        issue_id=issue_id,
        reply_to=reply_to,
        category=category,
        dedupe_key=dedupe_key,
        created_at=now,
        not_before=not_before or now,
        status="pending",
        tries=0,
    )
    if dedupe_key is None and writes.is_deferring(session):
        writes.insert_later(session, _INSERT, values)
        return None
    key = conn.execute(_INSERT, values).inserted_primary_key
    return int(key[0]) if key else None


def person_address(
    session: Session,
    person: Person,
    prefer_platform: str | None = None,
    directory: Directory | None = None,
) -> tuple[str, str] | None:
    """The (platform, user id) to reach a person privately, on the preferred platform if they
    have an account there."""
    person_id = person.id or 0
    keys = directory.keys(session, person_id) if directory else person_keys(session, person_id)
    if not keys:
        return None
    for key in keys:
        if prefer_platform and key.startswith(prefer_platform + ":"):
            return split_key(key)
    return split_key(keys[0])


def to_person(
    session: Session,
    person: Person,
    text: str,
    *,
    now: datetime,
    prefer_platform: str | None = None,
    directory: Directory | None = None,
    **kwargs: object,
) -> int | None:
    address = person_address(session, person, prefer_platform, directory)
    if address is None:
        return None
    platform, ident = address
    return enqueue(
        session,
        now=now,
        platform=platform,
        chat=ident,
        text=text,
        private=True,
        recipient=person.name,
        **kwargs,  # type: ignore[arg-type]
    )


def to_sender(
    session: Session, sender_key: str, name: str, text: str, *, now: datetime, **kwargs: object
) -> int | None:
    platform, ident = split_key(sender_key)
    return enqueue(
        session,
        now=now,
        platform=platform,
        chat=ident,
        text=text,
        private=True,
        recipient=name,
        **kwargs,  # type: ignore[arg-type]
    )


def to_chat(
    session: Session, chat_key: str, text: str, *, now: datetime, **kwargs: object
) -> int | None:
    platform, ident = split_key(chat_key)
    group = session.exec(
        select(ChatGroup).join(GroupChat).where(GroupChat.chat_key == chat_key)
    ).first()
    return enqueue(
        session,
        now=now,
        platform=platform,
        chat=ident,
        text=text,
        private=False,
        recipient=group.name if group else chat_key,
        **kwargs,  # type: ignore[arg-type]
    )
