"""Writing outgoing messages as outbox rows, in the same transaction as the change they report."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from handlers.directory import GridCache
from handlers.privacy import mask
from ports.messages import Button
from storage import outbox, people
from storage.models import Person


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
    row = outbox.message_row(
        platform=platform,
        chat=chat,
        private=private,
        recipient=recipient,
        mention=mention,
        text=text if private else mask(text),
        buttons=buttons,
        issue_id=issue_id,
        reply_to=reply_to,
        category=category,
        dedupe_key=dedupe_key,
        now=now,
        not_before=not_before,
    )
    return outbox.queue(session=session, row=row)


def person_address(
    session: Session,
    person: Person,
    prefer_platform: str | None = None,
    directory: GridCache | None = None,
) -> tuple[str, str] | None:
    """The (platform, user id) to reach a person privately, on the preferred platform if they
    have an account there."""
    person_id = person.id or 0
    keys = (
        directory.keys(session, person_id)
        if directory
        else people.person_keys(session=session, person_id=person_id)
    )
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
    directory: GridCache | None = None,
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
    group = people.chat_group(session=session, chat_key=chat_key)
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
