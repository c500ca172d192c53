"""Platform-neutral messages: what an adapter hands in, and what buttons look like."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from ports.hygiene import MAX_BUTTON, clean_key, clean_name, clean_text


@dataclass(frozen=True)
class Attachment:
    kind: str  # photo, voice, document, video, location, sticker
    file_id: str = ""
    path: str | None = None  # downloaded copy in the data folder
    note: str = ""  # e.g. "30.1,120.2" for a location

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", clean_key(self.kind, 32))
        object.__setattr__(self, "file_id", clean_key(self.file_id, 512))
        object.__setattr__(self, "note", clean_name(self.note, 200))


@dataclass(frozen=True)
class Incoming:
    """One message (or button press) received from any platform: the neutral form every door
    hands to intake (handlers.intake.receive)."""

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

    def __post_init__(self) -> None:
        """Cleaned here, once for every door (ports.hygiene): nothing a person can type or
        forge reaches the database or an echo unclean or unbounded."""
        setattr_ = object.__setattr__
        setattr_(self, "text", clean_text(self.text))
        setattr_(self, "sender_name", clean_name(self.sender_name))
        setattr_(self, "chat_title", clean_name(self.chat_title, 128))
        for name in ("platform", "chat", "sender", "message_id"):
            setattr_(self, name, clean_key(getattr(self, name)))
        if self.reply_to is not None:
            setattr_(self, "reply_to", clean_key(self.reply_to))
        if self.button is not None:
            setattr_(self, "button", clean_key(self.button, MAX_BUTTON))

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
