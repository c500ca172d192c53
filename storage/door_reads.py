"""What a door reads back to translate (not to decide): the local platform's chat of a group,
and the bot's own sent messages a script replies to or presses a button of. Functions over a
session; they never write."""

from __future__ import annotations

from sqlmodel import Session, col, select

from storage.models import ChatGroup, GroupChat, Issue, Outbox

SENT = "sent"


def chat_of_group(*, session: Session, platform: str, group: str) -> str | None:
    """The chat id on `platform` of the 说事群 named `group`, None when it has none there."""
    key = session.exec(
        select(GroupChat.chat_key)
        .join(ChatGroup, col(ChatGroup.id) == col(GroupChat.group_id))
        .where(col(GroupChat.chat_key).like(f"{platform}:%"), ChatGroup.name == group)
        .order_by(col(GroupChat.id))
    ).first()
    return key.split(":", 1)[1] if key is not None else None


def latest_sent_about(*, session: Session, platform: str, chat: str, number: int) -> str | None:
    """The platform message id of the newest message the bot sent to this chat about issue
    `number`."""
    row = session.exec(
        select(Outbox)
        .join(Issue, col(Issue.id) == col(Outbox.issue_id))
        .where(
            Issue.number == number,
            Outbox.platform == platform,
            Outbox.chat == chat,
            Outbox.status == SENT,
        )
        .order_by(col(Outbox.id).desc())
    ).first()
    return row.platform_message_id if row else None


def sent_with_buttons(*, session: Session, platform: str) -> list[Outbox]:
    """The bot's sent messages on `platform` that carry buttons, newest first."""
    return list(
        session.exec(
            select(Outbox)
            .where(Outbox.platform == platform, Outbox.status == SENT, Outbox.buttons != "[]")
            .order_by(col(Outbox.id).desc())
        ).all()
    )
