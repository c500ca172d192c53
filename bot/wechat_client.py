"""A Wechaty Puppet Service gRPC client that stays connected (grpc.aio).

The protocol, as the gateway (deploy/wechaty-gateway) serves it:
- every call carries the metadata ``authorization: Wechaty <token>``;
- open the ``Event`` server stream first (the server answers with a HEARTBEAT at once), then
  call ``Start``; only one Event stream may be open, and events are dropped while none is;
- event payloads are JSON strings: MESSAGE ``{"messageId"}``, LOGIN ``{"contactId"}``,
  SCAN ``{"qrcode", "status"}``, DONG ``{"data"}``;
- ``Stop`` stops the puppet itself (it logs out): a client that goes away only cancels its stream.

`PuppetClient.run` keeps one session open: on a broken stream, a gateway restart or a silent
stream (no event, not even the DONG answering our periodic Ding, for `silence_timeout`
seconds) it closes the channel and connects again after an exponential backoff with jitter.
Everything above the protocol (what a message means) is the caller's, through `on_event`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

import grpc

from bot.wechat_tls import WECHATY_ROOT_CA, channel_credentials, server_name_from_token
from bot.wechaty_pb.wechaty import puppet_pb2_grpc
from bot.wechaty_pb.wechaty.puppet import base_pb2, download_upload_pb2, event_pb2

log = logging.getLogger(__name__)

EventType = event_pb2.EventType
HEARTBEAT = EventType.EVENT_TYPE_HEARTBEAT
MESSAGE = EventType.EVENT_TYPE_MESSAGE
DONG = EventType.EVENT_TYPE_DONG
ERROR = EventType.EVENT_TYPE_ERROR
ROOM_JOIN = EventType.EVENT_TYPE_ROOM_JOIN
ROOM_LEAVE = EventType.EVENT_TYPE_ROOM_LEAVE
ROOM_TOPIC = EventType.EVENT_TYPE_ROOM_TOPIC
SCAN = EventType.EVENT_TYPE_SCAN
READY = EventType.EVENT_TYPE_READY
LOGIN = EventType.EVENT_TYPE_LOGIN
LOGOUT = EventType.EVENT_TYPE_LOGOUT
DIRTY = EventType.EVENT_TYPE_DIRTY

QR_LINK = "https://wechaty.js.org/qrcode/{}"
# Codes that mean "the gateway is not there right now", not "this request is wrong".
TRANSIENT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


class MessageType(IntEnum):
    """wechaty-puppet's message types: the numbers `MessagePayloadResponse.type` carries
    (NOT the names of message.proto's enum, which are shifted by one)."""

    UNKNOWN = 0
    ATTACHMENT = 1
    AUDIO = 2
    CONTACT = 3
    CHAT_HISTORY = 4
    EMOTICON = 5
    IMAGE = 6
    TEXT = 7
    LOCATION = 8
    MINI_PROGRAM = 9
    GROUP_NOTE = 10
    TRANSFER = 11
    RED_ENVELOPE = 12
    RECALLED = 13
    URL = 14
    VIDEO = 15
    POST = 16


class ScanStatus(IntEnum):
    UNKNOWN = 0
    CANCEL = 1
    WAITING = 2
    SCANNED = 3
    CONFIRMED = 4
    TIMEOUT = 5


class DirtyType(IntEnum):
    UNSPECIFIED = 0
    MESSAGE = 1
    CONTACT = 2
    ROOM = 3
    ROOM_MEMBER = 4
    FRIENDSHIP = 5
    POST = 6


class FileBoxType(IntEnum):
    BASE64 = 1
    URL = 2
    QRCODE = 3
    UUID = 7


class NotConnected(Exception):
    """No session with the gateway right now."""


class ConnectionLost(Exception):
    """The event stream ended or went silent."""


class FileTooLarge(Exception):
    pass


@dataclass
class ClientOptions:
    endpoint: str
    token: str
    tls: bool = True
    root_ca: bytes = WECHATY_ROOT_CA
    server_name: str | None = None  # default: from the token, as Wechaty does
    connect_timeout: float = 10.0
    call_timeout: float = 20.0
    ding_interval: float = 15.0  # Ding this often; the gateway answers with a DONG event
    silence_timeout: float = 45.0  # no event at all for this long: reconnect
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    stable_after: float = 30.0  # a session that lasted this long resets the backoff


@dataclass
class ConnectionStatus:
    """What the admin status page shows about the WeChat door."""

    endpoint: str
    tls: bool
    state: str = "stopped"  # stopped, connecting, connected, waiting
    logged_in: bool = False
    self_id: str | None = None
    self_name: str = ""
    scan_status: str | None = None  # waiting, scanned, confirmed, timeout, cancel
    qr_url: str | None = None  # open it and scan with the bot account's phone
    connected_at: datetime | None = None
    last_event_at: datetime | None = None
    reconnects: int = 0
    last_error: str | None = None
    unknown_rooms: dict[str, str] = field(default_factory=dict)  # room id → topic

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def qr_link(qrcode: str) -> str:
    """The page that draws a SCAN event's QR code (what Wechaty's examples print)."""
    return QR_LINK.format(urllib.parse.quote(qrcode, safe=""))


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": between half and all of min(cap, base·2^n)."""
    ceiling = min(cap, base * 2 ** min(attempt, 32))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def describe(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        details = (exc.details() or "").strip().splitlines()
        return f"{exc.code().name}: {details[0] if details else ''}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, NotConnected | ConnectionLost | TimeoutError):
        return True
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in TRANSIENT_CODES


def _closed_or_cancelled() -> BaseException:
    """A call ended by CancelledError: our task was cancelled (pass that on), or the session's
    channel was closed under the call (grpc.aio cancels its calls then): not connected."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        return asyncio.CancelledError()
    return NotConnected("the connection to the WeChat gateway closed during the call")


EventCallback = Callable[[int, dict[str, Any]], Awaitable[None]]
Now = Callable[[], datetime | None]


class PuppetClient:
    """One gRPC session with the gateway at a time, kept alive by `run`."""

    def __init__(
        self,
        options: ClientOptions,
        *,
        on_event: EventCallback | None = None,
        on_status: Callable[[ConnectionStatus], None] | None = None,
        now: Now | None = None,
    ) -> None:
        self.options = options
        self.on_event = on_event
        self.on_status = on_status
        self._now = now or (lambda: None)
        self.status = ConnectionStatus(endpoint=options.endpoint, tls=options.tls)
        self.connected = asyncio.Event()  # set while a session is open (stream + Start done)
        self.logged_in = asyncio.Event()
        self._metadata = (("authorization", f"Wechaty {options.token}"),)
        self._stub: Any = None
        self._stopping = asyncio.Event()
        self._last_event = 0.0
        self.sessions = 0  # sessions opened so far (tests, status)

    # --- what callers use -------------------------------------------------------------------
    @property
    def self_id(self) -> str | None:
        return self.status.self_id

    async def call(self, method: str, request: Any, *, timeout: float | None = None) -> Any:
        """One unary call on the current session."""
        stub = self._stub
        if stub is None:
            raise NotConnected("not connected to the WeChat gateway")
        try:
            return await getattr(stub, method)(
                request, metadata=self._metadata, timeout=timeout or self.options.call_timeout
            )
        except asyncio.CancelledError:
            raise _closed_or_cancelled() from None

    async def download(self, uuid: str, limit: int) -> bytes:
        """The bytes of a UUID FileBox (the server's `Download` stream)."""
        stub = self._stub
        if stub is None:
            raise NotConnected("not connected to the WeChat gateway")
        call = stub.Download(
            download_upload_pb2.DownloadRequest(id=uuid),
            metadata=self._metadata,
            timeout=self.options.call_timeout * 3,
        )
        parts: list[bytes] = []
        size = 0
        try:
            async for part in call:
                size += len(part.chunk)
                if size > limit:
                    call.cancel()
                    raise FileTooLarge(f"file larger than {limit} bytes")
                parts.append(part.chunk)
        except asyncio.CancelledError:
            raise _closed_or_cancelled() from None
        return b"".join(parts)

    async def file_box_bytes(self, file_box: str, limit: int) -> tuple[str, bytes] | None:
        """(name, bytes) of a FileBox JSON string as the server returns it; None when the box
        holds no file we can fetch (a QR code, an unknown type)."""
        box = json.loads(file_box)
        name = str(box.get("name") or "")
        kind = box.get("type", box.get("boxType"))
        if kind == FileBoxType.BASE64:
            data = base64.b64decode(box.get("base64") or "")
        elif kind == FileBoxType.UUID:
            data = await self.download(str(box.get("uuid")), limit)
        elif kind == FileBoxType.URL:
            data = await _fetch_url(str(box.get("url")), box.get("headers") or {}, limit)
        else:
            return None
        if len(data) > limit:
            raise FileTooLarge(f"file larger than {limit} bytes")
        return name, data

    async def stop(self) -> None:
        """End the session (cancel the stream; never `Stop`, which would log the puppet out)."""
        self._stopping.set()

    # --- the session loop -------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, and connect again whenever the session ends, until `stop`."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while not self._stopping.is_set():
            started = loop.time()
            opened_before = self.sessions
            try:
                await self._until_stopped(self._session())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.status.last_error = describe(exc)
                if not is_transient(exc) and not isinstance(exc, grpc.aio.AioRpcError):
                    log.exception("WeChat: session failed")
            if self._stopping.is_set():
                break
            lasted = loop.time() - started
            if self.sessions > opened_before and lasted >= self.options.stable_after:
                attempt = 0
            delay = backoff_delay(attempt, self.options.backoff_base, self.options.backoff_cap)
            attempt += 1
            self.status.reconnects += 1
            self._set_state("waiting")
            log.warning(
                "WeChat: gateway %s: %s; reconnecting in %.1f s",
                self.options.endpoint,
                self.status.last_error or "session ended",
                delay,
            )
            await self._until_stopped(asyncio.sleep(delay))
        self._set_state("stopped")

    async def _until_stopped(self, work: Awaitable[None]) -> None:
        """Run `work` until it ends or `stop` is called (then cancel it)."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if not task.cancelled():
            task.result()

    def _channel(self) -> grpc.aio.Channel:
        endpoint = self.options.endpoint.split("://", 1)[-1]
        opts: list[tuple[str, Any]] = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        if not self.options.tls:
            return grpc.aio.insecure_channel(endpoint, options=opts)
        name = self.options.server_name or server_name_from_token(self.options.token)
        opts.append(("grpc.ssl_target_name_override", name))
        return grpc.aio.secure_channel(
            endpoint, channel_credentials(self.options.root_ca), options=opts
        )

    async def _session(self) -> None:
        self._set_state("connecting")
        channel = self._channel()
        stream: Any = None
        try:
            stub = puppet_pb2_grpc.PuppetStub(channel)
            stream = stub.Event(event_pb2.EventRequest(), metadata=self._metadata)
            first = await asyncio.wait_for(stream.read(), self.options.connect_timeout)
            if first is grpc.aio.EOF:
                raise ConnectionLost("the gateway closed the event stream at once")
            await stub.Start(
                base_pb2.StartRequest(), metadata=self._metadata, timeout=self.options.call_timeout
            )
            # A logged-in puppet says so (LOGIN) right after connecting; until then, we are not.
            self._logged_out()
            self._stub = stub
            self.sessions += 1
            self._last_event = asyncio.get_running_loop().time()
            self.status.connected_at = self._now()
            self.status.last_error = None
            self.connected.set()
            self._set_state("connected")
            log.info(
                "WeChat: connected to the gateway at %s (%s)",
                self.options.endpoint,
                "TLS" if self.options.tls else "plaintext",
            )
            await self._dispatch(first)
            pump = asyncio.create_task(self._pump(stream))
            watchdog = asyncio.create_task(self._watchdog(stub))
            try:
                done, _ = await asyncio.wait({pump, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (pump, watchdog):
                    task.cancel()
                await asyncio.gather(pump, watchdog, return_exceptions=True)
            for task in done:
                task.result()  # raises what ended the session
        finally:
            self._stub = None
            self.connected.clear()
            self._logged_out()
            self._publish()
            if stream is not None:
                stream.cancel()
            await channel.close(grace=None)

    async def _pump(self, stream: Any) -> None:
        loop = asyncio.get_running_loop()
        while True:
            event = await stream.read()
            if event is grpc.aio.EOF:
                raise ConnectionLost("the gateway ended the event stream")
            self._last_event = loop.time()
            await self._dispatch(event)

    async def _watchdog(self, stub: Any) -> None:
        """Ding every `ding_interval`; the DONG (or any event) proves the stream is alive."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.options.ding_interval)
            silent = loop.time() - self._last_event
            if silent > self.options.silence_timeout:
                raise ConnectionLost(f"no event from the gateway for {silent:.0f} s")
            try:
                await stub.Ding(
                    base_pb2.DingRequest(data="shuoshi"),
                    metadata=self._metadata,
                    timeout=min(self.options.call_timeout, self.options.silence_timeout),
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() in TRANSIENT_CODES:
                    raise ConnectionLost(f"Ding failed: {describe(exc)}") from exc
                log.debug("WeChat: Ding refused by the puppet: %s", describe(exc))

    # --- events -----------------------------------------------------------------------------
    async def _dispatch(self, event: Any) -> None:
        kind = int(event.type)
        try:
            payload = json.loads(event.payload) if event.payload else {}
        except ValueError:
            payload = {"data": event.payload}
        if not isinstance(payload, dict):
            payload = {"data": payload}
        self.status.last_event_at = self._now()
        if kind == SCAN:
            self._scan(payload)
        elif kind == LOGIN:
            self.status.self_id = str(payload.get("contactId") or "") or None
            self.status.logged_in = self.status.self_id is not None
            self.status.qr_url = self.status.scan_status = None
            self.logged_in.set()
            log.info("WeChat: logged in as %s", self.status.self_id)
            self._publish()
        elif kind == LOGOUT:
            log.warning(
                "WeChat: %s logged out (%s)",
                payload.get("contactId") or self.status.self_id,
                payload.get("data") or "no reason given",
            )
            self._logged_out()
            self._publish()
        elif kind == ERROR:
            log.warning("WeChat: puppet error: %s", str(payload.get("data") or payload)[:300])
        elif kind == READY:
            log.info("WeChat: puppet ready")
        elif kind in (HEARTBEAT, DONG):
            self._publish()  # the status page's "last event"
        if self.on_event is not None:
            try:
                await self.on_event(kind, payload)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad event must not drop the connection
                log.exception("WeChat: handling event %s", EventType.Name(kind))

    def _scan(self, payload: dict[str, Any]) -> None:
        try:
            status = ScanStatus(int(payload.get("status") or 0))
        except ValueError:
            status = ScanStatus.UNKNOWN
        qrcode = str(payload.get("qrcode") or "")
        self.status.scan_status = status.name.lower()
        if qrcode and status in (ScanStatus.WAITING, ScanStatus.TIMEOUT, ScanStatus.UNKNOWN):
            self.status.qr_url = qr_link(qrcode)
            log.warning(
                "WeChat: login needed (scan %s): open %s and scan it with the bot's phone",
                status.name.lower(),
                self.status.qr_url,
            )
        else:
            log.info("WeChat: login scan %s", status.name.lower())
        self._publish()

    def _logged_out(self) -> None:
        self.status.logged_in = False
        self.logged_in.clear()

    def _set_state(self, state: str) -> None:
        if self.status.state != state:
            self.status.state = state
            self._publish()

    def _publish(self) -> None:
        if self.on_status is not None:
            try:
                self.on_status(self.status)
            except Exception:
                log.exception("WeChat: publishing the status")


async def _fetch_url(url: str, headers: dict[str, Any], limit: int) -> bytes:
    """A URL FileBox (some puppets hand out their CDN links with cookies in `headers`)."""
    import httpx

    async with (
        httpx.AsyncClient(timeout=60, follow_redirects=True) as http,
        http.stream("GET", url, headers={str(k): str(v) for k, v in headers.items()}) as resp,
    ):
        resp.raise_for_status()
        data = bytearray()
        async for chunk in resp.aiter_bytes():
            data.extend(chunk)
            if len(data) > limit:
                raise FileTooLarge(f"file larger than {limit} bytes")
        return bytes(data)
