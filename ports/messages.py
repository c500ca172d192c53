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
    transcript: str = ""  # a voice message's words, as speech-to-text heard them (语音转写)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", clean_key(self.kind, 32))
        object.__setattr__(self, "file_id", clean_key(self.file_id, 512))
        object.__setattr__(self, "note", clean_name(self.note, 200))
        if self.transcript:
            object.__setattr__(self, "transcript", clean_text(self.transcript, MAX_TRANSCRIPT))


# A minute of speech is some 300 characters: more than this is an endpoint gone astray.
MAX_TRANSCRIPT = 2_000


@dataclass(frozen=True)
class Voice:
    """The sound of a voice message, as its door fetched it (Telegram's OGG/Opus as sent; WeChat's
    SILK decoded to WAV), for speech-to-text. It travels with the message only until intake:
    never stored (the file is, as the message's voice `Attachment`)."""

    data: bytes = field(repr=False)
    filename: str = "voice.ogg"  # its extension tells the endpoint the format
    mime: str = "audio/ogg"


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
    voice: Voice | None = None  # the sound of a voice message, for speech-to-text (not stored)

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
        return json.dumps([_stored(a) for a in self.attachments], ensure_ascii=False)


def _stored(attachment: Attachment) -> dict[str, str | None]:
    # Only a transcribed voice carries the transcript key: other rows stay as they were.
    row = asdict(attachment)
    if not row["transcript"]:
        del row["transcript"]
    return row


Button = tuple[str, str]  # (label, callback data)
