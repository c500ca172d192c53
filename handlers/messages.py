"""Platform-neutral messages: what an adapter hands in, and what buttons look like."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Attachment:
    kind: str  # photo, voice, document, video, location, sticker
    file_id: str = ""
    path: str | None = None  # downloaded copy in the data folder
    note: str = ""  # e.g. "30.1,120.2" for a location


@dataclass(frozen=True)
class Inbound:
    """One message (or button press) received from any platform."""

    platform: str  # local, telegram, wechat
    chat: str  # platform chat id; for a private chat, the sender's chat
    sender: str  # platform user id (local: the display name)
    text: str
    message_id: str  # unique within (platform, chat)
    at: datetime
    sender_name: str = ""
    private: bool = False
    reply_to: str | None = None  # platform message id this message replies to
    button: str | None = None  # callback data of a pressed button
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    chat_title: str = ""

    @property
    def sender_key(self) -> str:
        return f"{self.platform}:{self.sender}"

    @property
    def chat_key(self) -> str:
        return f"{self.platform}:{self.chat}"

    def attachments_json(self) -> str:
        if not self.attachments:
            return "[]"  # most messages: no encoder needed
        return json.dumps([asdict(a) for a in self.attachments], ensure_ascii=False)


Button = tuple[str, str]  # (label, callback data)
