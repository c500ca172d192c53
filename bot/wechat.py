"""The WeChat door: Wechaty's Puppet Service gRPC protocol, spoken to deploy/wechaty-gateway.

In: a MESSAGE event → `MessagePayload` (+ room topic, the talker's name, the file) → a neutral
`Incoming` → `handlers.intake.receive_many`. Out: `WechatTransport.send(row)` → `MessageSendText`
(an @-mention for a row addressed to someone in a room), `MessageSendFile` for a picture; rows
already queued for one chat go out as one message (`send_merged`, WECHAT_MERGE_MAX).

- Messages are fetched concurrently but handed to the core one at a time, in arrival order.
- The bot's own messages (they come back as events) are skipped.
- A room not in the grid is neither recorded nor answered: a bot account is often a person's
  own WeChat, sitting in family and friends' groups; the room's id and topic are logged once
  (and listed on the status page) so the operator can add it to the grid. A grid entry
  `wechat-topic:<topic>` binds the first room seen with that topic (storage/chat_binding.py).
- Private chats are always served (villagers may report privately; cadres bind there).
- No buttons on WeChat: button rows go out as text only; the texts already say what to reply
  (认领 12, 办结 12 已修好, 满意 / 1 …). WeChat quotes arrive as text; only the reply part is
  kept (`strip_quote`), and `reply_to` stays empty.
Connection, reconnects, heartbeat and login state: bot/wechat_client.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import re
import time
import wave
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pysilk

from bot.wechat_client import (
    DIRTY,
    LOGIN,
    LOGOUT,
    MESSAGE,
    ROOM_JOIN,
    ROOM_LEAVE,
    ROOM_TOPIC,
    ClientOptions,
    ConnectionStatus,
    DirtyType,
    FileTooLarge,
    MessageType,
    NotConnected,
    PuppetClient,
    describe,
    is_transient,
)
from bot.wechaty_pb.wechaty.puppet import (
    contact_pb2,
    image_pb2,
    message_pb2,
    room_member_pb2,
    room_pb2,
)
from handlers.deps import Deps
from handlers.intake import Handled, receive_many
from handlers.voice import SOUND_TYPES, hear, sound, voice_file, wants_words
from ports.asr import SpeechToText
from ports.doors import (
    DatabaseWork,
    Door,
    OutboxSender,
    PermanentError,
    PlatformLimits,
    TransientError,
    at_most,
)
from ports.messages import Attachment, Incoming, Voice
from ports.runtime import Runtime
from ports.settings import Settings
from scheduler.wake import SenderWaker
from storage.chat_binding import bind_by_topic, bound_chat, group_of_chat
from storage.db import session_scope
from storage.lease import hold, wechat_lease
from storage.models import Outbox

log = logging.getLogger(__name__)
T = TypeVar("T")

PLATFORM = "wechat"
MENTION_SPACE = "\u2005"  # WeChat puts this "four-per-em space" after an @name
_SEPARATORS = f" \t\n\u00a0{MENTION_SPACE}"
# wechaty-puppet message type → attachment kind of the core
ATTACHMENT_KINDS = {
    MessageType.IMAGE: "photo",
    MessageType.AUDIO: "voice",
    MessageType.VIDEO: "video",
    MessageType.ATTACHMENT: "document",
    MessageType.EMOTICON: "sticker",
}
DOWNLOADED = ("photo", "voice", "video", "document")  # stickers are not worth keeping
MAX_FILE_BYTES = 25 * 1024 * 1024
# Rows merged into one message (ports.doors.MergingTransport): parted by a blank line,
# and no longer than a phone screen or two.
MERGED_SEPARATOR = "\n\n"
MERGED_CHARS = 1500
WAKE_EVERY = 0.25  # seconds; WeChat sends at most 1 message/s per chat anyway
BURST = 8  # messages decided in one transaction when they come together (bench/intake.py)
NAME_TTL = 600.0  # seconds a room topic or a person's name is trusted without asking again
KNOWN_ROOM_TTL = 60.0  # seconds a room is trusted to be in the grid without asking again
UNKNOWN_ROOM_TTL = 300.0  # a room found not in the grid is looked up again after this
_QUOTE_RULE = re.compile(r"\n\s*-(?: -){4,}\s*\n")
_LOGIN_TROUBLE = re.compile(r"log(?:ged)?[ _-]?(?:in|out)", re.I)
_UNSAFE = re.compile(r"[^0-9A-Za-z._\-\u4e00-\u9fff]+")


def send_limits(settings: Settings) -> PlatformLimits:
    """What WeChat lets an account send without looking like a bot (one message a second in a
    chat, 20 a minute in a room; the puppet service may want an overall limit too), as WECHAT_*
    set them for this process; rows queued for one chat go out as one message, up to
    WECHAT_MERGE_MAX."""
    return PlatformLimits(
        overall=at_most(settings.wechat_max_per_second, 1.0),
        chat=at_most(settings.wechat_chat_max_per_second, 1.0),
        group=at_most(settings.wechat_room_max_per_minute, 60.0),
        merge_max=settings.wechat_merge_max,
    )


def options_from_settings(settings: Settings) -> ClientOptions:
    return ClientOptions(
        endpoint=settings.wechaty_puppet_service_endpoint,
        token=settings.wechaty_puppet_service_token,
        tls=not settings.wechaty_puppet_service_no_tls_insecure_client,
    )


def strip_quote(text: str) -> str:
    """The reply part of a quoting message. Puppets render a WeChat quote as text,
    "「张三：原文」\n- - - - - - - - - - - - - - -\n回复"; the quote itself is not kept
    (the core has no use for it), so "1" quoting the bot's rating question is a rating."""
    parts = _QUOTE_RULE.split(text, maxsplit=1)
    if len(parts) == 2 and parts[0].lstrip().startswith("「"):
        return parts[1]
    return text


def strip_mention(text: str, names: Iterable[str], *, mentioned: bool = False) -> str:
    """`text` without the @-mentions of the bot at its start or end ("@说事\u2005路灯坏了").
    `mentioned`: the puppet says the bot was mentioned; then a single leading "@…\u2005" goes
    even when the bot's name in this room is not known."""
    out = text.strip(_SEPARATORS)
    known = sorted({n for n in names if n}, key=len, reverse=True)
    changed = True
    stripped = False
    while changed and out:
        changed = False
        for name in known:
            at = "@" + name
            if out.startswith(at) and (len(out) == len(at) or out[len(at)] in _SEPARATORS):
                out = out[len(at) :].lstrip(_SEPARATORS)
                changed = stripped = True
            if out.endswith(at) and (len(out) == len(at) or out[-len(at) - 1] in _SEPARATORS):
                out = out[: -len(at)].rstrip(_SEPARATORS)
                changed = stripped = True
    if mentioned and not stripped and out.startswith("@") and MENTION_SPACE in out:
        out = out.split(MENTION_SPACE, 1)[1].lstrip(_SEPARATORS)
    return out


def safe_name(text: str, limit: int = 60) -> str:
    return _UNSAFE.sub("_", text).strip("._")[:limit] or "file"


@dataclass
class _Cached:
    value: str
    until: float


class NameCache:
    """Room topics and people's names, cached (`NAME_TTL`) and forgotten on DIRTY events."""

    def __init__(self, client: PuppetClient, ttl: float = NAME_TTL) -> None:
        self.client = client
        self.ttl = ttl
        self._topics: dict[str, _Cached] = {}
        self._names: dict[tuple[str, str], _Cached] = {}  # (room id or "", contact id)

    def _get(self, cache: MutableMapping[Any, _Cached], key: Any) -> str | None:
        hit = cache.get(key)
        return hit.value if hit is not None and hit.until > time.monotonic() else None

    def _put(self, cache: MutableMapping[Any, _Cached], key: Any, value: str) -> str:
        cache[key] = _Cached(value, time.monotonic() + self.ttl)
        return value

    async def topic(self, room_id: str) -> str:
        hit = self._get(self._topics, room_id)
        if hit is not None:
            return hit
        room = await self.client.call("RoomPayload", room_pb2.RoomPayloadRequest(id=room_id))
        return self._put(self._topics, room_id, room.topic)

    async def name(self, contact_id: str, room_id: str = "") -> str:
        """What a person is called: their alias in the room, else their WeChat name."""
        hit = self._get(self._names, (room_id, contact_id))
        if hit is not None:
            return hit
        name = ""
        if room_id:
            member = await self.client.call(
                "RoomMemberPayload",
                room_member_pb2.RoomMemberPayloadRequest(id=room_id, member_id=contact_id),
            )
            name = member.room_alias or member.name
        if not name:
            contact = await self.client.call(
                "ContactPayload", contact_pb2.ContactPayloadRequest(id=contact_id)
            )
            name = contact.name or contact.alias
        return self._put(self._names, (room_id, contact_id), name)

    async def name_or_blank(self, contact_id: str, room_id: str = "") -> str:
        try:
            return await self.name(contact_id, room_id)
        except (grpc.aio.AioRpcError, NotConnected) as exc:
            log.info("WeChat: no name for %s in %s: %s", contact_id, room_id, describe(exc))
            return ""

    def forget_room(self, room_id: str) -> None:
        self._topics.pop(room_id, None)
        for key in [k for k in self._names if k[0] == room_id]:
            del self._names[key]

    def forget_contact(self, contact_id: str) -> None:
        for key in [k for k in self._names if k[1] == contact_id]:
            del self._names[key]


class WechatTransport:
    """Outbox rows → WeChat (the `ports.doors.Transport` of platform "wechat")."""

    platform = PLATFORM

    def __init__(self, bot: WechatBot) -> None:
        self.bot = bot
        self.in_flight: set[asyncio.Task[Any]] = set()  # sends on the wire

    async def _call(self, method: str, request: Any, timeout: float | None = None) -> str:
        """One send; its id is noted before the call counts as done, so the echo event of
        the message (which may arrive before the answer) is recognised without a lookup. A
        failure is told to the sender as what it should make of it (`_send_error`)."""

        async def send() -> str:
            sent = await self.bot.client.call(method, request, timeout=timeout)
            self.bot.sent_ids.add(sent.id)
            return str(sent.id)

        task = asyncio.ensure_future(send())
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)
        try:
            return await task
        except (grpc.aio.AioRpcError, NotConnected) as exc:
            raise _send_error(exc) from exc

    def _ready(self) -> None:
        client = self.bot.client
        if not client.connected.is_set():
            raise TransientError("WeChat gateway not connected", retry_after=5)
        if not client.status.logged_in:
            raise TransientError("WeChat bot not logged in (scan the QR code)", retry_after=30)

    async def _addressed(self, row: Outbox) -> tuple[str, str]:
        """The row's text as it goes out, "@name\u2005…" when it is addressed to someone in a
        room, and the WeChat id to mention ("" for none)."""
        platform, _, contact_id = (row.mention or "").partition(":")
        if row.private or platform != PLATFORM or not contact_id:
            return row.text, ""
        name = await self.bot.names.name_or_blank(contact_id, row.chat)
        return (f"@{name}{MENTION_SPACE}{row.text}" if name else row.text), contact_id

    async def _send_text(self, chat: str, text: str, mention_ids: list[str]) -> str:
        return await self._call(
            "MessageSendText",
            message_pb2.MessageSendTextRequest(
                conversation_id=chat, text=text, mentional_ids=mention_ids
            ),
        )

    async def send(self, row: Outbox) -> str:
        self._ready()
        text, mention = await self._addressed(row)
        file_id = await self._send_image(row)
        if file_id and not text.strip():
            return file_id
        sent = await self._send_text(row.chat, text, [mention] if mention else [])
        return sent or file_id

    def can_merge(self, rows: Sequence[Outbox]) -> bool:
        """Text rows (a picture goes alone), short enough together to read as one message."""
        return (
            not any(getattr(row, "image", None) for row in rows)
            and sum(len(row.text) for row in rows) <= MERGED_CHARS
        )

    async def send_merged(self, rows: Sequence[Outbox]) -> str:
        """Rows of one chat as one message, in their order, each part with its own @-mention:
        in a room, each person addressed sees that the message is for them."""
        self._ready()
        parts, mention_ids = [], []
        for row in rows:
            text, mention = await self._addressed(row)
            parts.append(text)
            if mention and mention not in mention_ids:
                mention_ids.append(mention)
        return await self._send_text(rows[0].chat, MERGED_SEPARATOR.join(parts), mention_ids)

    async def _send_image(self, row: Outbox) -> str:
        """A picture on the row (the digest's chart), if the outbox has such a column:
        bytes, or the path of a file."""
        image = getattr(row, "image", None)
        if not image:
            return ""
        if isinstance(image, bytes | bytearray):
            data, name = bytes(image), "image.png"
        else:
            path = Path(str(image))
            if not path.is_file():
                log.warning("WeChat: outbox %s: no picture at %s", row.id, path)
                return ""
            data, name = path.read_bytes(), path.name
        box = {"type": 1, "boxType": 1, "name": name, "base64": base64.b64encode(data).decode()}
        return await self._call(
            "MessageSendFile",
            message_pb2.MessageSendFileRequest(conversation_id=row.chat, file_box=json.dumps(box)),
            timeout=60,
        )


PERMANENT_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.OUT_OF_RANGE,
    }
)


def _send_error(exc: Exception) -> Exception:
    """What the sender should make of a failed send."""
    detail = describe(exc)
    if is_transient(exc):
        return TransientError(f"WeChat: {detail}")
    code = exc.code() if isinstance(exc, grpc.aio.AioRpcError) else None
    if code in PERMANENT_CODES:
        return PermanentError(f"WeChat refused the message: {detail}"[:500])
    if code == grpc.StatusCode.UNAUTHENTICATED:  # a wrong token: the operator must fix it
        return TransientError(f"WeChat gateway refused the token: {detail}", retry_after=60)
    if _LOGIN_TROUBLE.search(detail):  # the puppet logged out meanwhile
        return TransientError(f"WeChat: {detail}", retry_after=30)
    # The puppet threw (gRPC UNKNOWN): counted as one try, tried again later.
    return RuntimeError(f"WeChat send failed: {detail}"[:500])


class _RecentIds:
    """The last few thousand ids the bot sent, so their echo events need no lookup."""

    def __init__(self, size: int = 4096) -> None:
        self._ids: dict[str, None] = {}
        self.size = size

    def add(self, message_id: str) -> None:
        if message_id:
            self._ids[message_id] = None
            if len(self._ids) > self.size:
                del self._ids[next(iter(self._ids))]

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids


class WechatBot(Door):
    """The WeChat door: a `PuppetClient`, message intake, and `transport` for the "wechat"
    outbox rows. Built by the root (bot.app.wechat_door); the sender the root builds for it
    (one per platform, so its rate limits count every WeChat message of this process) runs
    while WeChat can take messages and is woken after each message, so an answer goes out at
    once."""

    platform = PLATFORM
    asr: SpeechToText | None = None  # speech to text for voice messages: the root's, when on

    def __init__(
        self,
        app: Runtime[Deps],
        options: ClientOptions | None = None,
        *,
        attachments_dir: Path | None = None,
        concurrency: int = 16,
    ) -> None:
        self.app = app
        self.limits = send_limits(app.settings)
        self.client = PuppetClient(
            options or options_from_settings(app.settings),
            on_event=self._on_event,
            on_status=self._publish_status,
            now=app.clock.now,
        )
        self.transport = WechatTransport(self)
        self.sender: OutboxSender | None = None  # the root's, for the "wechat" rows: `start`
        self.names = NameCache(self.client)
        self.attachments_dir = attachments_dir or Path(app.settings.data_dir) / "attachments"
        self.sent_ids = _RecentIds()
        self.handled = 0  # messages handed to the core
        self._fetching = asyncio.Semaphore(concurrency)
        self._queue: asyncio.Queue[asyncio.Task[Incoming | None]] = asyncio.Queue(maxsize=1000)
        self._rooms: dict[str, tuple[bool, float]] = {}  # room id → (in the grid, until)
        self._binding = asyncio.Lock()
        self._self_name = ""
        self._waker = SenderWaker(self._wake_sender, WAKE_EVERY)
        self.db = DatabaseWork()
        self._background: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._can_send = asyncio.Event()
        self._cannot_send = asyncio.Event()
        self._cannot_send.set()

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.db(fn, *args)

    def _wake_sender(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    @property
    def status(self) -> ConnectionStatus:
        return self.client.status

    async def run(self) -> None:
        """Serve until cancelled or the client stops."""
        tasks: list[asyncio.Task[Any]] = [
            asyncio.create_task(self._work(), name="wechat-intake"),
            asyncio.create_task(self._send(), name="wechat-sender"),
        ]
        try:
            await self.client.run()
        finally:
            # Messages read but not yet recorded are dropped, as the gateway drops events
            # while nobody listens; what was recorded is resumed at the next start.
            while not self._queue.empty():
                tasks.append(self._queue.get_nowait())
            tasks.extend(self._background)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def start(self, sender: OutboxSender) -> None:
        """Serve in the background, `sender` delivering the "wechat" rows. One instance at a
        time reads the gateway; the others stand by (storage/lease.py)."""
        self.sender = sender
        lease = wechat_lease(self.client.options.endpoint)
        ttl = self.app.settings.wechat_lease_seconds
        self._task = asyncio.create_task(hold(self.app.engine, lease, self.run, ttl=ttl))

    async def stop(self) -> None:
        await self.client.stop()
        if self._task is not None:
            self._task.cancel()  # ends the work and hands the lease over at once
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 10)
            self._task = None

    async def _send(self) -> None:
        """Deliver while WeChat is reachable and logged in; pause otherwise, so an outage (a
        gateway restart, a QR scan) leaves the rows pending and spends none of their tries."""
        assert self.sender is not None
        while True:
            await self._can_send.wait()
            runner = asyncio.create_task(self.sender.run_forever())
            paused = asyncio.create_task(self._cannot_send.wait())
            try:
                await asyncio.wait({runner, paused}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (runner, paused):
                    while not task.done():  # run_forever gives back the rows it had claimed
                        task.cancel()
                        await asyncio.wait([task], timeout=1.0)
            if not runner.cancelled() and runner.exception() is not None:
                log.error("WeChat: the sender stopped: %r", runner.exception())
                await asyncio.sleep(1)

    # --- events -----------------------------------------------------------------------------
    async def _on_event(self, kind: int, payload: dict[str, Any]) -> None:
        if kind == MESSAGE:
            message_id = str(payload.get("messageId") or "")
            if message_id and message_id not in self.sent_ids:
                task = asyncio.create_task(self._fetch(message_id))
                await self._queue.put(task)  # waits when 1,000 are pending: back-pressure
        elif kind == LOGIN:
            self._self_name = ""
            learn = asyncio.create_task(self._learn_self_name())
            self._background.add(learn)
            learn.add_done_callback(self._background.discard)
        elif kind == LOGOUT:
            self._self_name = ""
        elif kind in (ROOM_TOPIC, ROOM_JOIN, ROOM_LEAVE):
            room_id = str(payload.get("roomId") or "")
            self.names.forget_room(room_id)
            self._rooms.pop(room_id, None)
        elif kind == DIRTY:
            ident = str(payload.get("payloadId") or "")
            dirty = payload.get("payloadType")
            if dirty in (DirtyType.ROOM, DirtyType.ROOM_MEMBER):
                self.names.forget_room(ident)
            elif dirty == DirtyType.CONTACT:
                self.names.forget_contact(ident)

    async def _learn_self_name(self) -> None:
        self_id = self.client.self_id
        if self_id:
            self._self_name = await self.names.name_or_blank(self_id)
            self.status.self_name = self._self_name
            self._publish_status(self.status)

    # --- intake: fetch concurrently, hand over in order -------------------------------------
    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            # A burst: messages already being read behind this one are decided with it, in one
            # transaction (handlers.intake.receive_many); a lone message goes at once.
            while len(batch) < BURST and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            inbounds = [inbound for task in batch if (inbound := await self._read_result(task))]
            if not inbounds:
                continue
            try:
                await self._db(self.deliver_many, inbounds)
            except Exception:  # recorded messages are resumed at the next start
                log.exception("WeChat: handling message %s", inbounds[0].message_id)
            self._waker.wake()

    async def _read_result(self, task: asyncio.Task[Incoming | None]) -> Incoming | None:
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            return None  # that one message's reading was cancelled, not this loop
        except Exception:
            log.exception("WeChat: reading a message")
            return None

    def deliver_many(self, inbounds: list[Incoming]) -> list[Handled]:
        """Record and decide messages that came together, in order."""
        handled = receive_many(self.app.engine, self.app.deps, inbounds)
        self.handled += len(inbounds)
        return handled

    async def _fetch(self, message_id: str) -> Incoming | None:
        sending = list(self.transport.in_flight)
        if sending:  # this may be the echo of one of them: let them finish first
            await asyncio.wait(sending, timeout=self.client.options.call_timeout)
            if message_id in self.sent_ids:
                return None
        async with self._fetching:
            for attempt in range(4):
                try:
                    return await self._hear(await self._read(message_id))
                except (grpc.aio.AioRpcError, NotConnected) as exc:
                    if not is_transient(exc) or attempt == 3:
                        log.warning("WeChat: message %s lost: %s", message_id, describe(exc))
                        return None
                    # The gateway went away mid-way: wait for the next session and ask again.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.client.connected.wait(), 30)
            return None

    async def _read(self, message_id: str) -> Incoming | None:
        msg = await self.client.call(
            "MessagePayload", message_pb2.MessagePayloadRequest(id=message_id)
        )
        self_id = self.client.self_id
        if not msg.talker_id or msg.talker_id == self_id:
            return None  # the bot's own message coming back
        try:
            mtype = MessageType(int(msg.type))
        except ValueError:
            return None
        kind = ATTACHMENT_KINDS.get(mtype)
        if mtype != MessageType.TEXT and kind is None:
            log.debug("WeChat: %s message %s ignored", mtype.name, message_id)
            return None
        room_id = msg.room_id
        topic = ""
        if room_id:
            topic = await self.names.topic(room_id)
            if not await self._room_in_grid(room_id, topic):
                return None
        name = await self.names.name_or_blank(msg.talker_id, room_id)
        text = strip_quote(msg.text) if mtype == MessageType.TEXT else ""
        if room_id and "@" in text:
            bot_named = self_id is not None and self_id in msg.mention_ids
            text = strip_mention(text, await self._bot_names(room_id), mentioned=bot_named)
        attachments: tuple[Attachment, ...] = ()
        if kind is not None:
            attachments = (await self._attachment(message_id, mtype, kind, msg.filename),)
        return Incoming(
            platform=PLATFORM,
            chat=room_id or msg.talker_id,
            sender=msg.talker_id,
            sender_name=name,
            text=text.strip(),
            message_id=message_id,
            at=self.app.clock.now(),
            private=not room_id,
            attachments=attachments,
            chat_title=topic,
        )

    async def _bot_names(self, room_id: str) -> list[str]:
        """What people type after @ to address the bot here: its name, its alias in the room."""
        self_id = self.client.self_id
        if not self_id:
            return []
        return [self._self_name, await self.names.name_or_blank(self_id, room_id)]

    async def _attachment(
        self, message_id: str, mtype: MessageType, kind: str, filename: str
    ) -> Attachment:
        if kind not in DOWNLOADED:
            return Attachment(kind=kind, file_id=message_id)
        try:
            if mtype == MessageType.IMAGE:
                try:
                    box = await self.client.call(
                        "MessageImage",
                        message_pb2.MessageImageRequest(
                            id=message_id, type=image_pb2.IMAGE_TYPE_HD
                        ),
                    )
                except grpc.aio.AioRpcError as exc:
                    if is_transient(exc):
                        raise
                    box = await self.client.call(
                        "MessageFile", message_pb2.MessageFileRequest(id=message_id)
                    )
            else:
                box = await self.client.call(
                    "MessageFile", message_pb2.MessageFileRequest(id=message_id)
                )
            got = await self.client.file_box_bytes(box.file_box, MAX_FILE_BYTES)
        except (FileTooLarge, ValueError, OSError) as exc:
            log.warning("WeChat: file of message %s not kept: %s", message_id, exc)
            return Attachment(kind=kind, file_id=message_id)
        except grpc.aio.AioRpcError as exc:
            if is_transient(exc):
                raise
            log.warning("WeChat: file of message %s not kept: %s", message_id, describe(exc))
            return Attachment(kind=kind, file_id=message_id)
        if got is None:
            return Attachment(kind=kind, file_id=message_id)
        name, data = got
        path = self._save(message_id, name or filename, data)
        return Attachment(kind=kind, file_id=message_id, path=str(path))

    def _save(self, message_id: str, name: str, data: bytes) -> Path:
        folder = self.attachments_dir / PLATFORM
        folder.mkdir(parents=True, exist_ok=True)
        path = (folder / f"{safe_name(message_id, 40)}-{safe_name(name)}").resolve()
        path.write_bytes(data)
        return path

    # --- voice -----------------------------------------------------------------------------
    async def _hear(self, msg: Incoming | None) -> Incoming | None:
        """A voice message with its words (handlers.voice), when speech to text is on: the
        sound is the file just saved, WeChat's SILK decoded to WAV (`voice_of`)."""
        if msg is None or not wants_words(self.asr, msg):
            return msg
        sound = await asyncio.to_thread(voice_of, msg)
        return await hear(self.asr, replace(msg, voice=sound)) if sound else msg

    # --- rooms and the grid -----------------------------------------------------------------
    async def _room_in_grid(self, room_id: str, topic: str) -> bool:
        hit = self._rooms.get(room_id)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        async with self._binding:  # one binding at a time: the first room with a topic wins
            known = await self._db(self._resolve_room, room_id, topic)
        ttl = KNOWN_ROOM_TTL if known else UNKNOWN_ROOM_TTL
        self._rooms[room_id] = (known, time.monotonic() + ttl)
        return known

    def _resolve_room(self, room_id: str, topic: str) -> bool:
        with session_scope(self.app.engine) as session:
            if group_of_chat(session, chat_key=f"{PLATFORM}:{room_id}") is not None:
                return True
            grid = self.app.deps.grid
            if bind_by_topic(session, grid=grid, platform=PLATFORM, chat=room_id, topic=topic):
                log.info("WeChat: room %s (%s) bound by its topic", room_id, topic)
                return True
            holder = bound_chat(session, grid=grid, platform=PLATFORM, topic=topic)
        if room_id not in self.status.unknown_rooms:
            self.status.unknown_rooms[room_id] = topic
            hint = f"; the topic is already bound to {holder}" if holder else ""
            log.warning(
                "WeChat: room %s (topic %r) is not in the grid; its messages are ignored. "
                'To serve it add "wechat:%s" to the chats of its group in the grid file%s',
                room_id,
                topic,
                room_id,
                hint,
            )
            self._publish_status(self.status)
        return False

    # --- status -----------------------------------------------------------------------------
    def _publish_status(self, status: ConnectionStatus) -> None:
        """Pause or resume sending; show the status in the admin's registry (`app.status`)."""
        ready = self.client.connected.is_set() and status.logged_in
        (self._can_send if ready else self._cannot_send).set()
        (self._cannot_send if ready else self._can_send).clear()
        self.app.status[PLATFORM] = status_view(status)


SILK_MAGIC = b"#!SILK_V3"  # after one 0x02 byte in WeChat's own files
SILK_RATE = 16_000  # Hz: what speech-to-text models listen at


# Other puppets hand out voice already converted (wechat4u: MP3); those go as they are.
def voice_of(msg: Incoming) -> Voice | None:
    """The sound of the message's saved voice file as the endpoint can read it: SILK decoded
    to 16 kHz mono WAV; None when unreadable or undecodable (the message then goes on
    without words, 待分类)."""
    found = voice_file(msg)
    if found is None:
        return None
    path, data = found
    if data[:16].lstrip(b"\x02").startswith(SILK_MAGIC):
        try:
            return Voice(silk_to_wav(data), "voice.wav", "audio/wav")
        except Exception as exc:  # pysilk.SilkError and whatever a broken file brings
            log.warning("WeChat: voice file %s is not SILK it can decode: %s", path, exc)
            return None
    if path.suffix.lower() not in SOUND_TYPES:
        log.info("WeChat: voice file %s of a kind speech to text may not read", path)
    return sound(data, path.suffix)


def silk_to_wav(data: bytes) -> bytes:
    """WeChat's SILK v3 (with or without Tencent's leading byte) as 16-bit mono WAV."""
    pcm = io.BytesIO()
    pysilk.decode(io.BytesIO(data), pcm, SILK_RATE)
    if not pcm.getvalue():
        raise ValueError("no sound in it")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SILK_RATE)
        wav.writeframes(pcm.getvalue())
    return out.getvalue()


def status_view(status: ConnectionStatus) -> dict[str, Any]:
    """What the admin's 状态 page shows for WeChat (a "qr" value is shown as a link)."""
    view: dict[str, Any] = {"state": status.state, "logged_in": status.logged_in}
    if status.self_id:
        view["account"] = (
            f"{status.self_name} ({status.self_id})" if status.self_name else status.self_id
        )
    if status.qr_url and not status.logged_in:
        view["qr"] = status.qr_url
        view["scan"] = status.scan_status
    view["last_event"] = status.last_event_at
    view["reconnects"] = status.reconnects
    if status.last_error:
        view["error"] = status.last_error
    if status.unknown_rooms:
        view["rooms_not_in_grid"] = "、".join(
            f"wechat:{room}（{topic}）" for room, topic in status.unknown_rooms.items()
        )
    return view
