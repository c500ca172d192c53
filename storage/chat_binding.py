"""Which group a platform chat belongs to, and binding chats named by title in the grid.

A grid entry may name a chat by its title instead of its id, `<platform>-topic:<title>`
(e.g. `wechat-topic:新联村说事群`): WeChat room ids are only learned once the bot sees the room.
The first chat of that platform seen with that title is bound to the entry's group, as the row
`<platform>:<id>`; later chats with the same title are not (someone could name any room so).

Grid sync deactivates chats the file does not name, bound ones included; seeing the bound
chat again reactivates it, so a binding survives restarts.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from storage.grid import Grid
from storage.models import ChatGroup, GroupChat


def topic_key(platform: str, topic: str) -> str:
    return f"{platform}-topic:{topic.strip()}"


def group_of_chat(session: Session, *, chat_key: str) -> int | None:
    """The active group an active chat ("platform:id") belongs to."""
    return session.exec(
        select(ChatGroup.id)
        .join(GroupChat)
        .where(GroupChat.chat_key == chat_key, GroupChat.active, ChatGroup.active)
    ).first()


def bind_by_topic(
    session: Session, *, grid: Grid, platform: str, chat: str, topic: str
) -> int | None:
    """Bind `platform:chat` to the group whose grid entry names `platform-topic:topic`.
    The group's id, or None when no entry names that title or it is bound to another chat."""
    if not topic.strip():
        return None
    entry = session.exec(
        select(GroupChat)
        .join(ChatGroup)
        .where(GroupChat.chat_key == topic_key(platform, topic), GroupChat.active, ChatGroup.active)
    ).first()
    if entry is None:
        return None
    group = session.get(ChatGroup, entry.group_id)
    assert group is not None
    key = f"{platform}:{chat}"
    named = _named_chats(grid, group.name)
    bound_before = session.exec(
        select(GroupChat.chat_key).where(
            GroupChat.group_id == entry.group_id,
            col(GroupChat.chat_key).startswith(f"{platform}:"),
            GroupChat.chat_key != key,
        )
    ).all()
    if any(other not in named for other in bound_before):
        return None  # the title was bound to another chat first
    row = session.exec(select(GroupChat).where(GroupChat.chat_key == key)).first()
    if row is None:
        row = GroupChat(chat_key=key, group_id=entry.group_id)
    row.group_id = entry.group_id
    row.active = True
    session.add(row)
    session.flush()
    return entry.group_id


def bound_chat(session: Session, *, grid: Grid, platform: str, topic: str) -> str | None:
    """The chat key a title entry is bound to (for logs and status), if any."""
    entry = session.exec(
        select(GroupChat).where(GroupChat.chat_key == topic_key(platform, topic))
    ).first()
    if entry is None:
        return None
    group = session.get(ChatGroup, entry.group_id)
    named = _named_chats(grid, group.name if group else "")
    for key in session.exec(
        select(GroupChat.chat_key).where(
            GroupChat.group_id == entry.group_id,
            col(GroupChat.chat_key).startswith(f"{platform}:"),
        )
    ).all():
        if key not in named:
            return key
    return None


def _named_chats(grid: Grid, group_name: str) -> set[str]:
    """The chats the grid file itself names for a group."""
    return {c for v in grid.villages for g in v.groups if g.name == group_name for c in g.chats}
