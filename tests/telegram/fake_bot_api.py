"""A fake Telegram Bot API server for offline end-to-end tests.

A real ``python-telegram-bot`` ``Application`` (or any HTTP client) talks to it over HTTP on
127.0.0.1, exactly as it would talk to ``api.telegram.org``::

    async with FakeBotApi() as server:
        app = (
            ApplicationBuilder()
            .token("123:ABC")
            .base_url(f"{server.url}/bot")
            .base_file_url(f"{server.url}/file/bot")
            .build()
        )
        ...
        server.post_text(-1001, 42, "你好")
        [reply] = await server.wait_sent(1)

Updates are built by the ``post_*`` helpers (or queued raw with :meth:`FakeBotApi.queue_update`)
and handed out by ``getUpdates`` (long polling, offset semantics) or, once ``setWebhook`` was
called with a url, pushed to that url.  Everything the bot does is recorded in ``calls``,
``sent``, ``edits``, ``callback_answers``, ``commands``, ``deleted`` and ``webhook_deliveries``.

Only the standard library and aiohttp are used.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import itertools
import json
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

__all__ = [
    "ApiCall",
    "CallbackAnswer",
    "CommandsCall",
    "EditRecord",
    "FakeBotApi",
    "SentMessage",
    "StoredFile",
    "UploadedFile",
    "WebhookDelivery",
]

JSONDict = dict[str, Any]
T = TypeVar("T")

log = logging.getLogger(__name__)

#: Update types Telegram sends when ``allowed_updates`` was never given (or given empty).
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)

# Form/multipart values are strings; PTB JSON-encodes every non-string value.  These parameters
# are always strings and must never be decoded (a text of "123" stays "123").
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "file_id",
        "url",
        "secret_token",
        "parse_mode",
        "inline_message_id",
        "language_code",
        "ip_address",
        "description",
        "short_description",
        "name",
        "title",
        "query",
        "emoji",
        "business_connection_id",
        "message_effect_id",
        "question",
        "explanation",
        "custom_emoji_id",
        "photo",
        "document",
        "voice",
        "audio",
        "video",
        "animation",
        "sticker",
        "video_note",
        "thumbnail",
        "certificate",
        "file_name",
    }
)

_INT_RE = re.compile(r"-?\d+")
_FLOAT_RE = re.compile(r"-?\d+\.\d+")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")

_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
_TINY_OGG = b"OggS\x00\x02" + b"\x00" * 58


# --------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------


@dataclass
class UploadedFile:
    """One file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    content: bytes


@dataclass
class ApiCall:
    """One Bot API request, recorded when it arrives (status/response filled in later)."""

    method: str
    params: JSONDict
    token: str
    http_method: str = "POST"
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int | None = None
    response: JSONDict | None = None


@dataclass
class StoredFile:
    """A file the server can serve through getFile and ``/file/bot<token>/<file_path>``."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    mime_type: str | None = None
    file_name: str | None = None

    @property
    def file_size(self) -> int:
        return len(self.content)


@dataclass
class SentMessage:
    """A message the bot sent (sendMessage, sendPhoto, sendDocument, ...).

    ``text`` is the raw ``text`` (or ``caption``) parameter exactly as the bot sent it, markup
    included; ``plain_text`` is what a user would see (``message["text"]``/``["caption"]``).
    """

    method: str
    chat_id: int
    message_id: int
    text: str | None
    reply_markup: JSONDict | None
    parse_mode: str | None
    reply_to_message_id: int | None
    params: JSONDict
    message: JSONDict
    file: StoredFile | None = None

    @property
    def plain_text(self) -> str | None:
        value = self.message.get("text", self.message.get("caption"))
        return value if isinstance(value, str) else None

    @property
    def buttons(self) -> list[list[JSONDict]]:
        """The inline keyboard rows, or ``[]``."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard") or []
        return [list(row) for row in rows]


@dataclass
class EditRecord:
    """An editMessageText / editMessageReplyMarkup / editMessageCaption call that succeeded."""

    method: str
    chat_id: int | None
    message_id: int | None
    text: str | None
    reply_markup: JSONDict | None
    params: JSONDict
    inline_message_id: str | None = None


@dataclass
class CallbackAnswer:
    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    params: JSONDict


@dataclass
class CommandsCall:
    """A setMyCommands (commands given) or deleteMyCommands (commands == []) call."""

    method: str
    commands: list[JSONDict]
    scope: JSONDict | None
    language_code: str | None


@dataclass
class WebhookDelivery:
    """One attempt to POST an update to the webhook url."""

    update_id: int
    url: str
    attempt: int
    status: int | None
    error: str | None = None
    secret_token: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class _Failure:
    method: str
    status: int
    description: str
    parameters: JSONDict | None
    remaining: int


@dataclass
class _QueuedUpdate:
    update: JSONDict
    forced: bool = False
    delivered: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    @property
    def kind(self) -> str:
        return next((k for k in self.update if k != "update_id"), "")


class _ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        data: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            data["parameters"] = self.parameters
        return data


def _bad_request(text: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {text}")


_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: fake failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


# --------------------------------------------------------------------------------------------
# text helpers: entities (UTF-16 offsets) and parse_mode rendering/validation
# --------------------------------------------------------------------------------------------


def _u16len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_ENTITY_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")),
    ("url", re.compile(r"https?://[^\s<>\"]+")),
    ("mention", re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{5,32}")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d_]\w*")),
]


def detect_entities(text: str) -> list[JSONDict]:
    """Entities Telegram would attach to a plain user text (commands, urls, mentions, tags)."""
    found: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _ENTITY_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            found.append((start, end, kind))
    found.sort()
    return [
        {"offset": _u16len(text[:start]), "length": _u16len(text[start:end]), "type": kind}
        for start, end, kind in found
    ]


_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
        "tg-time",
    }
)
_HTML_TOKEN = re.compile(
    r"<(/?)([A-Za-z][\w-]*)(\s[^<>]*)?>|&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);|<"
)
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _parse_error(text: str) -> _ApiError:
    return _bad_request(f"can't parse entities: {text}")


def render_html(text: str) -> str:
    """Plain text of a parse_mode=HTML message; raises like Telegram on markup it rejects."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    for match in _HTML_TOKEN.finditer(text):
        out.append(text[pos : match.start()])
        pos = match.end()
        offset = len(text[: match.start()].encode())
        closing, name, entity = match.group(1), match.group(2), match.group(4)
        if name is not None:
            name = name.lower()
            if closing:
                if not stack or stack[-1] != name:
                    raise _parse_error(f"Unexpected end tag at byte offset {offset}")
                stack.pop()
            elif name not in _HTML_TAGS:
                raise _parse_error(f'Unsupported start tag "{name}" at byte offset {offset}')
            else:
                stack.append(name)
        elif entity is not None:
            if entity.startswith("#"):
                out.append(html.unescape(match.group(0)))
            else:
                out.append(_HTML_NAMED.get(entity.lower(), match.group(0)))
        else:
            following = re.match(r"[^\s<>]*", text[match.end() :])
            word = following.group(0) if following else ""
            raise _parse_error(f'Unsupported start tag "{word}" at byte offset {offset}')
    out.append(text[pos:])
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


_MDV2_MUST_ESCAPE = frozenset(".!#+-={}()]>")


def render_markdown_v2(text: str) -> str:
    """Approximate plain text of a MarkdownV2 message; raises on unescaped reserved chars."""
    out: list[str] = []
    i, n = 0, len(text)
    in_code = in_pre = False
    link_depth = 0
    while i < n:
        char = text[i]
        if char == "\\":
            if i + 1 >= n:
                raise _parse_error("Can't parse entities: unexpected end of text")
            out.append(text[i + 1])
            i += 2
            continue
        if text.startswith("```", i) and not in_code:
            i += 3
            if not in_pre:
                newline = text.find("\n", i)
                if newline != -1 and text[i:newline] and " " not in text[i:newline]:
                    i = newline + 1  # language name
            in_pre = not in_pre
            continue
        if char == "`" and not in_pre:
            in_code = not in_code
            i += 1
            continue
        if in_code or in_pre:
            out.append(char)
            i += 1
            continue
        if char in "*_~|":
            i += 1
            continue
        if char == "[":
            link_depth += 1
            i += 1
            continue
        if char == "]" and link_depth:
            link_depth -= 1
            i += 1
            if i < n and text[i] == "(":
                close = text.find(")", i)
                i = n if close == -1 else close + 1
            continue
        if char == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1
            continue
        if char in _MDV2_MUST_ESCAPE:
            raise _parse_error(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(char)
        i += 1
    return "".join(out)


def render_markdown(text: str) -> str:
    """Plain text of a legacy parse_mode=Markdown message (lenient)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"(?<!\\)[*_`]", "", text).replace("\\", "")


def render_text(text: str, parse_mode: str | None) -> str:
    mode = (parse_mode or "").lower()
    if mode == "html":
        return render_html(text)
    if mode == "markdownv2":
        return render_markdown_v2(text)
    if mode == "markdown":
        return render_markdown(text)
    if parse_mode:
        raise _bad_request(f"unsupported parse_mode {parse_mode!r}")
    return text


# --------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------

_Handler = Callable[[ApiCall], Awaitable[Any]]


class FakeBotApi:
    """An in-process fake of the Telegram Bot API (``/bot<token>/<method>``) on 127.0.0.1.

    Args:
        bot_id: the bot's user id; by default the numeric part of the token in use.
        username / first_name / is_bot / can_join_groups / can_read_all_group_messages /
        supports_inline_queries: what getMe answers.
        strict_parse_mode: reject HTML/MarkdownV2 markup Telegram would reject (400).
        max_poll_timeout: cap (seconds) on getUpdates' ``timeout``.
        webhook_max_attempts: attempts per update before the webhook push gives up on it.
        webhook_retry_delay: first retry delay in seconds (doubles each retry).
        webhook_timeout: seconds one webhook POST may take.
    """

    def __init__(
        self,
        *,
        bot_id: int | None = None,
        username: str = "shuoshi_test_bot",
        first_name: str = "说事",
        is_bot: bool = True,
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = False,
        supports_inline_queries: bool = False,
        strict_parse_mode: bool = True,
        max_poll_timeout: float = 50.0,
        webhook_max_attempts: int = 5,
        webhook_retry_delay: float = 0.05,
        webhook_timeout: float = 5.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.bot_id = bot_id
        self.username = username
        self.first_name = first_name
        self.is_bot = is_bot
        self.can_join_groups = can_join_groups
        self.can_read_all_group_messages = can_read_all_group_messages
        self.supports_inline_queries = supports_inline_queries
        self.strict_parse_mode = strict_parse_mode
        self.max_poll_timeout = max_poll_timeout
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self.host = host

        # records
        self.calls: list[ApiCall] = []
        self.sent: list[SentMessage] = []
        self.edits: list[EditRecord] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.commands: list[CommandsCall] = []
        self.deleted: list[tuple[int, int]] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.unknown_methods: list[str] = []

        # state
        self.files: dict[str, StoredFile] = {}
        self.messages: dict[tuple[int, int], JSONDict] = {}
        self.chats: dict[int, JSONDict] = {}
        self.users: dict[int, JSONDict] = {}
        self.members: dict[tuple[int, int], str] = {}
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_last_error: tuple[int, str] | None = None
        self._webhook_allowed: list[str] | None = None
        self._allowed_updates: list[str] | None = None
        self._my_commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._queue: list[_QueuedUpdate] = []
        self._failures: list[_Failure] = []
        self._callback_ids: set[str] = set()
        self._update_ids = itertools.count(10_001)
        self._max_update_id = 10_000
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._file_seq = itertools.count(1)
        self._callback_seq = itertools.count(4_000_000_000_001)
        self._poll_generation: dict[str, int] = {}
        self._last_token: str | None = None

        # machinery
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._port: int | None = None
        self._methods: dict[str, _Handler] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "sendphoto": self._send_media,
            "senddocument": self._send_media,
            "sendvoice": self._send_media,
            "sendaudio": self._send_media,
            "sendvideo": self._send_media,
            "sendanimation": self._send_media,
            "sendlocation": self._send_location,
            "sendchataction": self._true,
            "editmessagetext": self._edit_message,
            "editmessagecaption": self._edit_message,
            "editmessagereplymarkup": self._edit_message,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getfile": self._get_file,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "getchatadministrators": self._get_chat_administrators,
            "getchatmembercount": self._get_chat_member_count,
            "close": self._true,
            "logout": self._true,
        }
        # Native polls (issue 19, 议事): sendPoll, stopPoll, and poll_answer updates.
        self._methods.update({"sendpoll": self._send_poll, "stoppoll": self._stop_poll})
        self.polls: dict[str, JSONDict] = {}  # poll id → the poll as Telegram shows it
        self._poll_votes: dict[str, dict[int, list[int]]] = {}
        self._poll_seq = itertools.count(5_000_000_000_000_000_001)

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``; PTB wants ``f"{url}/bot"`` and ``f"{url}/file/bot"``."""
        if self._port is None:
            raise RuntimeError("FakeBotApi is not started")
        return f"http://{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{file_path:.+}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, 0))
            self._port = int(sock.getsockname()[1])
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.webhook_timeout)
        )
        self._webhook_task = asyncio.create_task(self._webhook_loop(), name="fake-bot-api-webhook")

    async def stop(self) -> None:
        self._closing = True
        self._bump()  # wakes long polls so they answer at once
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ---------------------------------------------------------------- waiting

    def _bump(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _wait_changed(self, event: asyncio.Event, timeout: float) -> None:
        if timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Wait until ``predicate()`` is truthy (re-checked whenever the server's state changes)
        and return its value; raise ``TimeoutError`` after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = [c.method for c in self.calls if c.method.lower() != "getupdates"][-10:]
                raise TimeoutError(
                    f"condition not met within {timeout}s; recent bot calls: {recent}"
                )
            await self._wait_changed(event, min(remaining, 0.25))

    async def wait_sent(
        self, count: int = 1, *, chat_id: int | None = None, timeout: float = 5.0
    ) -> list[SentMessage]:
        """Wait until at least ``count`` messages were sent (to ``chat_id`` if given)."""

        def matching() -> list[SentMessage]:
            return [s for s in self.sent if chat_id is None or s.chat_id == chat_id]

        await self.wait_for(lambda: len(matching()) >= count, timeout)
        return matching()

    async def wait_calls(
        self, method: str, count: int = 1, *, timeout: float = 5.0
    ) -> list[ApiCall]:
        """Wait until ``method`` was called at least ``count`` times; return those calls."""
        await self.wait_for(lambda: len(self.calls_to(method)) >= count, timeout)
        return self.calls_to(method)

    def calls_to(self, method: str) -> list[ApiCall]:
        name = method.lower()
        return [c for c in self.calls if c.method.lower() == name]

    def clear_records(self) -> None:
        """Forget recorded calls/messages (state such as files and chats is kept)."""
        for records in (
            self.calls,
            self.sent,
            self.edits,
            self.callback_answers,
            self.commands,
            self.deleted,
            self.webhook_deliveries,
            self.unknown_methods,
        ):
            records.clear()

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        *,
        description: str | None = None,
        parameters: JSONDict | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (``"*"``: any method) with an error.

        429 answers ``{"ok": false, "error_code": 429, "description": "Too Many Requests: retry
        after N", "parameters": {"retry_after": N}}``; other statuses use Telegram's wording."""
        if status == 429:
            description = description or f"Too Many Requests: retry after {retry_after}"
            parameters = {"retry_after": retry_after, **(parameters or {})}
        else:
            description = description or _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
        self._failures.append(_Failure(method.lower(), status, description, parameters, times))

    def _take_failure(self, method: str) -> _Failure | None:
        name = method.lower()
        for failure in self._failures:
            if failure.remaining > 0 and failure.method in (name, "*"):
                failure.remaining -= 1
                if failure.remaining == 0:
                    self._failures.remove(failure)
                return failure
        return None

    # ---------------------------------------------------------------- users, chats, files

    @property
    def bot_user(self) -> JSONDict:
        """The bot as a Telegram User (id from ``bot_id`` or the last token seen)."""
        return self._bot_user(self._last_token)

    def _bot_user(self, token: str | None) -> JSONDict:
        bot_id = self.bot_id
        if bot_id is None:
            prefix = (token or "").split(":", 1)[0]
            bot_id = int(prefix) if prefix.isdigit() else 123
        return {
            "id": bot_id,
            "is_bot": self.is_bot,
            "first_name": self.first_name,
            "username": self.username,
        }

    def user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        is_bot: bool = False,
        language_code: str | None = "zh-hans",
    ) -> JSONDict:
        """A Telegram User dict; names given once are remembered for later updates."""
        known = self.users.get(user_id, {})
        data: JSONDict = {
            "id": user_id,
            "is_bot": is_bot,
            "first_name": first_name or known.get("first_name") or f"用户{user_id}",
        }
        last = last_name or known.get("last_name")
        if last:
            data["last_name"] = last
        uname = username or known.get("username")
        if uname:
            data["username"] = uname
        if language_code and not is_bot:
            data["language_code"] = language_code
        self.users[user_id] = data
        return dict(data)

    def chat(
        self,
        chat_id: int,
        chat_type: str | None = None,
        *,
        title: str | None = None,
        user: JSONDict | None = None,
        username: str | None = None,
        is_forum: bool | None = None,
    ) -> JSONDict:
        """A Telegram Chat dict; type and title are remembered per chat."""
        known = self.chats.get(chat_id, {})
        kind = chat_type or known.get("type") or ("private" if chat_id > 0 else "supergroup")
        data: JSONDict = {"id": chat_id, "type": kind}
        if kind == "private":
            person = user or self.users.get(chat_id) or self.user(chat_id)
            data["first_name"] = person.get("first_name", f"用户{chat_id}")
            for key in ("last_name", "username"):
                if person.get(key):
                    data[key] = person[key]
        else:
            data["title"] = title or known.get("title") or "测试群"
            if username or known.get("username"):
                data["username"] = username or known.get("username")
            forum = is_forum if is_forum is not None else known.get("is_forum")
            if forum and kind == "supergroup":
                data["is_forum"] = True
        self.chats[chat_id] = data
        return dict(data)

    def register_file(
        self,
        content: bytes,
        *,
        file_path: str | None = None,
        file_id: str | None = None,
        mime_type: str | None = None,
        file_name: str | None = None,
        kind: str = "documents",
    ) -> StoredFile:
        """Make ``content`` downloadable via getFile + ``/file/bot<token>/<file_path>``."""
        seq = next(self._file_seq)
        if file_id is None:
            file_id = f"BQACAgUAAxkBAAI{seq:06d}{kind[:4]}"
        if file_path is None:
            suffix = ""
            if file_name and "." in file_name:
                suffix = file_name[file_name.rindex(".") :]
            elif kind == "photos":
                suffix = ".jpg"
            elif kind == "voice":
                suffix = ".oga"
            file_path = f"{kind}/file_{seq}{suffix}"
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=f"AgAD{seq:06d}",
            file_path=file_path,
            content=bytes(content),
            mime_type=mime_type,
            file_name=file_name,
        )
        self.files[file_id] = stored
        return stored

    def _photo_sizes(self, stored: StoredFile, width: int, height: int) -> list[JSONDict]:
        thumb = self.register_file(stored.content, kind="photos", mime_type=stored.mime_type)
        scale = max(width, height) / 90 if max(width, height) > 90 else 1
        return [
            {
                "file_id": thumb.file_id,
                "file_unique_id": thumb.file_unique_id,
                "file_size": thumb.file_size,
                "width": max(1, int(width / scale)),
                "height": max(1, int(height / scale)),
            },
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": stored.file_size,
                "width": width,
                "height": height,
            },
        ]

    def set_member(self, chat_id: int, user_id: int, status: str = "administrator") -> None:
        """getChatMember/getChatAdministrators answer ``status`` for this user
        (creator, administrator, member, left, kicked)."""
        self.members[(chat_id, user_id)] = status

    # ---------------------------------------------------------------- building updates

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def _find_message(self, chat_id: int, message_id: int) -> JSONDict:
        stored = self.messages.get((chat_id, message_id))
        if stored is not None:
            return copy.deepcopy(stored)
        return {"message_id": message_id, "date": int(time.time()), "chat": self.chat(chat_id)}

    def _reply_copy(self, chat_id: int, message_id: int) -> JSONDict:
        replied = self._find_message(chat_id, message_id)
        replied.pop("reply_to_message", None)
        return replied

    def _store(self, message: JSONDict) -> None:
        key = (int(message["chat"]["id"]), int(message["message_id"]))
        self.messages[key] = copy.deepcopy(message)

    def _user_message(
        self,
        chat_id: int,
        user_id: int,
        *,
        chat_type: str | None,
        chat_title: str | None,
        first_name: str | None,
        username: str | None,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
        is_bot: bool = False,
        last_name: str | None = None,
    ) -> JSONDict:
        sender = self.user(
            user_id, first_name=first_name, last_name=last_name, username=username, is_bot=is_bot
        )
        if chat_type is None and chat_id not in self.chats:
            chat_type = "private" if chat_id == user_id else "supergroup"
        message: JSONDict = {
            "message_id": self._next_message_id(chat_id),
            "from": sender,
            "chat": self.chat(chat_id, chat_type, title=chat_title, user=sender),
            "date": int(time.time()),
        }
        if message_thread_id is not None:
            message["message_thread_id"] = message_thread_id
            message["is_topic_message"] = True
        if reply_to_message_id is not None:
            message["reply_to_message"] = self._reply_copy(chat_id, reply_to_message_id)
        return message

    def _queue_message(self, message: JSONDict, kind: str = "message") -> JSONDict:
        self._store(message)
        return self.queue_update({kind: message})

    def queue_update(self, update: Mapping[str, Any], *, redeliver: bool | None = None) -> JSONDict:
        """Queue a raw update.  Without ``update_id`` a fresh one is assigned.

        An update whose ``update_id`` was already handed out (e.g. the same dict queued again)
        is a *redelivery*: it is delivered once more even though the bot's offset is past it,
        as Telegram does when a bot never confirmed it.  ``redeliver`` forces either way."""
        data = copy.deepcopy(dict(update))
        if "update_id" not in data:
            data["update_id"] = next(self._update_ids)
        update_id = int(data["update_id"])
        forced = update_id <= self._max_update_id if redeliver is None else redeliver
        if update_id > self._max_update_id:
            self._max_update_id = update_id
            self._update_ids = itertools.count(update_id + 1)
        self._queue.append(_QueuedUpdate(data, forced=forced))
        self._bump()
        return copy.deepcopy(data)

    def post_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str | None = None,
        chat_title: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
        entities: list[JSONDict] | None = None,
    ) -> JSONDict:
        """Queue a text message from a user.  ``chat_type`` defaults to the chat's known type,
        else ``"private"`` when ``chat_id == user_id`` and ``"supergroup"`` otherwise.  Entities
        (commands, mentions, urls, hashtags) are detected like Telegram unless given."""
        message = self._user_message(
            chat_id,
            user_id,
            chat_type=chat_type,
            chat_title=chat_title,
            first_name=first_name,
            last_name=last_name,
            username=username,
            reply_to_message_id=reply_to_message_id,
            message_thread_id=message_thread_id,
        )
        message["text"] = text
        found = detect_entities(text) if entities is None else entities
        if found:
            message["entities"] = found
        return self._queue_message(message)

    def _media_message(
        self,
        chat_id: int,
        user_id: int,
        caption: str | None,
        sender: Mapping[str, Any],
    ) -> JSONDict:
        message = self._user_message(
            chat_id,
            user_id,
            chat_type=sender.get("chat_type"),
            chat_title=sender.get("chat_title"),
            first_name=sender.get("first_name"),
            username=sender.get("username"),
            reply_to_message_id=sender.get("reply_to_message_id"),
        )
        if caption is not None:
            message["caption"] = caption
            found = detect_entities(caption)
            if found:
                message["caption_entities"] = found
        return message

    def post_photo(
        self,
        chat_id: int,
        user_id: int,
        content: bytes = _TINY_PNG,
        *,
        caption: str | None = None,
        width: int = 1280,
        height: int = 960,
        file_id: str | None = None,
        chat_type: str | None = None,
        chat_title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """Queue a photo message; ``content`` is registered, the largest PhotoSize serves it."""
        stored = self.register_file(content, file_id=file_id, kind="photos", mime_type="image/jpeg")
        message = self._media_message(chat_id, user_id, caption, locals())
        message["photo"] = self._photo_sizes(stored, width, height)
        return self._queue_message(message)

    def post_voice(
        self,
        chat_id: int,
        user_id: int,
        content: bytes = _TINY_OGG,
        *,
        duration: int = 3,
        mime_type: str = "audio/ogg",
        caption: str | None = None,
        file_id: str | None = None,
        chat_type: str | None = None,
        chat_title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """Queue a voice message (OGG/Opus by default) whose file is ``content``."""
        stored = self.register_file(content, file_id=file_id, kind="voice", mime_type=mime_type)
        message = self._media_message(chat_id, user_id, caption, locals())
        message["voice"] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": mime_type,
            "file_size": stored.file_size,
        }
        return self._queue_message(message)

    def post_document(
        self,
        chat_id: int,
        user_id: int,
        content: bytes = b"hello\n",
        *,
        file_name: str = "file.txt",
        mime_type: str = "text/plain",
        caption: str | None = None,
        file_id: str | None = None,
        chat_type: str | None = None,
        chat_title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """Queue a document message whose file is ``content``."""
        stored = self.register_file(
            content, file_id=file_id, kind="documents", mime_type=mime_type, file_name=file_name
        )
        message = self._media_message(chat_id, user_id, caption, locals())
        message["document"] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": stored.file_size,
        }
        return self._queue_message(message)

    def post_location(
        self,
        chat_id: int,
        user_id: int,
        latitude: float,
        longitude: float,
        *,
        live_period: int | None = None,
        horizontal_accuracy: float | None = None,
        chat_type: str | None = None,
        chat_title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """Queue a location message."""
        message = self._media_message(chat_id, user_id, None, locals())
        location: JSONDict = {"latitude": latitude, "longitude": longitude}
        if live_period is not None:
            location["live_period"] = live_period
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        message["location"] = location
        return self._queue_message(message)

    def post_caption(
        self,
        chat_id: int,
        user_id: int,
        caption: str,
        *,
        media: str = "photo",
        content: bytes | None = None,
        **kwargs: Any,
    ) -> JSONDict:
        """Queue a media message (``media``: photo, document or voice) carrying ``caption``."""
        posters: dict[str, Callable[..., JSONDict]] = {
            "photo": self.post_photo,
            "document": self.post_document,
            "voice": self.post_voice,
        }
        if media not in posters:
            raise ValueError(f"media must be one of {sorted(posters)}")
        if content is not None:
            kwargs["content"] = content
        return posters[media](chat_id, user_id, caption=caption, **kwargs)

    def edit_text(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        text: str,
        *,
        entities: list[JSONDict] | None = None,
    ) -> JSONDict:
        """Queue an ``edited_message``: the user edited their message ``message_id``."""
        key = (chat_id, message_id)
        if key in self.messages:
            message = copy.deepcopy(self.messages[key])
        else:
            message = {
                "message_id": message_id,
                "from": self.user(user_id),
                "chat": self.chat(chat_id),
                "date": int(time.time()) - 1,
            }
        message.pop("entities", None)
        message["text"] = text
        found = detect_entities(text) if entities is None else entities
        if found:
            message["entities"] = found
        message["edit_date"] = int(time.time())
        return self._queue_message(message, "edited_message")

    def press_button(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        *,
        first_name: str | None = None,
        username: str | None = None,
    ) -> JSONDict:
        """Queue a ``callback_query``: the user pressed a button with ``callback_data=data``
        on the (bot's) message ``message_id`` in ``chat_id``."""
        query_id = str(next(self._callback_seq))
        self._callback_ids.add(query_id)
        key = (chat_id, message_id)
        if key in self.messages:
            message = copy.deepcopy(self.messages[key])
        else:
            message = {
                "message_id": message_id,
                "from": self.bot_user,
                "chat": self.chat(chat_id),
                "date": int(time.time()),
                "text": "…",
            }
        query = {
            "id": query_id,
            "from": self.user(user_id, first_name=first_name, username=username),
            "message": message,
            "chat_instance": str(abs(chat_id) * 7919 % 10**18 + 1),
            "data": data,
        }
        return self.queue_update({"callback_query": query})

    def answer_poll(
        self, poll_id: str, user_id: int, option_ids: list[int], *, first_name: str | None = None
    ) -> JSONDict:
        """Queue a ``poll_answer``: the user chose ``option_ids`` in a non-anonymous poll the
        bot sent (an empty list: the vote taken back). The poll's counts follow, as Telegram
        keeps them."""
        poll = self.polls.get(poll_id)
        if poll is not None and not poll["is_closed"]:
            before = self._poll_votes.setdefault(poll_id, {}).get(user_id, [])
            for i in before:
                poll["options"][i]["voter_count"] -= 1
            for i in option_ids:
                poll["options"][i]["voter_count"] += 1
            self._poll_votes[poll_id][user_id] = list(option_ids)
            poll["total_voter_count"] = sum(1 for v in self._poll_votes[poll_id].values() if v)
        answer = {
            "poll_id": poll_id,
            "user": self.user(user_id, first_name=first_name),
            "option_ids": list(option_ids),
            "option_persistent_ids": [str(i) for i in option_ids],
        }
        return self.queue_update({"poll_answer": answer})

    async def _send_poll(self, call: ApiCall) -> JSONDict:
        params = call.params
        chat_id = self._chat_id(params)
        question = str(params.get("question") or "")
        if not question.strip():
            raise _bad_request("poll question must be non-empty")
        if _u16len(question) > 300:
            raise _bad_request("poll question length must not exceed 300")
        options = self._json(params, "options")
        if not isinstance(options, list) or not 2 <= len(options) <= 12:
            raise _bad_request("poll must have 2-12 options")
        texts = [str(o.get("text") if isinstance(o, dict) else o) for o in options]
        if any(not t.strip() or _u16len(t) > 100 for t in texts):
            raise _bad_request("poll options length must not exceed 100")
        poll = {
            "id": str(next(self._poll_seq)),
            "question": question,
            "options": [
                {"text": t, "voter_count": 0, "persistent_id": str(i)} for i, t in enumerate(texts)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": bool(params.get("is_anonymous", True)),
            "type": str(params.get("type") or "regular"),
            "allows_multiple_answers": bool(params.get("allows_multiple_answers", False)),
            "allows_revoting": bool(params.get("allows_revoting", True)),
            "members_only": bool(params.get("members_only", False)),
        }
        self.polls[poll["id"]] = poll
        message = self._bot_message(call, chat_id)
        message["poll"] = poll
        self._record_sent(call, message, None)
        return message

    async def _stop_poll(self, call: ApiCall) -> JSONDict:
        params = call.params
        chat_id = self._chat_id(params)
        message_id = self._int(params, "message_id")
        message = self.messages.get((chat_id, message_id or 0))
        if message is None or "poll" not in message:
            raise _bad_request("message with poll to stop not found")
        poll = self.polls[message["poll"]["id"]]
        if poll["is_closed"]:
            raise _bad_request("poll has already been closed")
        poll["is_closed"] = True
        message["poll"] = poll
        return copy.deepcopy(poll)

    def _as_user(self, value: int | Mapping[str, Any]) -> JSONDict:
        if isinstance(value, Mapping):
            data = dict(value)
            if "id" in data and not data.get("is_bot"):
                self.users[int(data["id"])] = data
            return data
        return self.user(value)

    def service_message(
        self,
        chat_id: int,
        user_id: int | None = None,
        *,
        new_chat_members: Iterable[int | Mapping[str, Any]] | None = None,
        left_chat_member: int | Mapping[str, Any] | None = None,
        pinned_message_id: int | None = None,
        new_chat_title: str | None = None,
        chat_type: str | None = None,
        chat_title: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> JSONDict:
        """Queue a service message.  ``user_id`` is who did it (defaults to the first new
        member, i.e. someone joining by themselves).  Members may be ids or User dicts
        (``server.bot_user`` for the bot being added)."""
        members = [self._as_user(m) for m in new_chat_members or []]
        actor_id = user_id if user_id is not None else (members[0]["id"] if members else None)
        if actor_id is None:
            raise ValueError("service_message needs user_id or new_chat_members")
        sender = members[0] if members and user_id is None else self.user(actor_id)
        message: JSONDict = {
            "message_id": self._next_message_id(chat_id),
            "from": sender,
            "chat": self.chat(chat_id, chat_type, title=chat_title),
            "date": int(time.time()),
        }
        if members:
            message["new_chat_members"] = members
            message["new_chat_member"] = members[0]
            message["new_chat_participant"] = members[0]
        if left_chat_member is not None:
            left = self._as_user(left_chat_member)
            message["left_chat_member"] = left
            message["left_chat_participant"] = left
        if pinned_message_id is not None:
            message["pinned_message"] = self._reply_copy(chat_id, pinned_message_id)
        if new_chat_title is not None:
            message["new_chat_title"] = new_chat_title
            self.chats[chat_id]["title"] = new_chat_title
        if extra:
            message.update(copy.deepcopy(dict(extra)))
        return self._queue_message(message)

    def channel_post(
        self,
        chat_id: int,
        text: str,
        *,
        chat_title: str | None = None,
        author_signature: str | None = None,
        edit_message_id: int | None = None,
    ) -> JSONDict:
        """Queue a ``channel_post`` (or ``edited_channel_post`` when ``edit_message_id``)."""
        chat = self.chat(chat_id, "channel", title=chat_title)
        if edit_message_id is not None:
            message = self._find_message(chat_id, edit_message_id)
            message["edit_date"] = int(time.time())
            kind = "edited_channel_post"
        else:
            message = {
                "message_id": self._next_message_id(chat_id),
                "date": int(time.time()),
            }
            kind = "channel_post"
        message.update({"sender_chat": chat, "chat": chat, "text": text})
        message.pop("entities", None)
        found = detect_entities(text)
        if found:
            message["entities"] = found
        if author_signature:
            message["author_signature"] = author_signature
        return self._queue_message(message, kind)

    def from_bot(
        self,
        chat_id: int,
        text: str,
        *,
        bot_id: int = 777_000_111,
        username: str = "other_helper_bot",
        first_name: str = "OtherBot",
        chat_type: str | None = None,
        chat_title: str | None = None,
    ) -> JSONDict:
        """Queue a text message sent by *another* bot (Telegram never echoes the bot's own)."""
        message = self._user_message(
            chat_id,
            bot_id,
            chat_type=chat_type,
            chat_title=chat_title,
            first_name=first_name,
            username=username,
            is_bot=True,
        )
        message["text"] = text
        found = detect_entities(text)
        if found:
            message["entities"] = found
        return self._queue_message(message)

    # ---------------------------------------------------------------- update queue

    def _allowed(self, entry: _QueuedUpdate, allowed: list[str] | None) -> bool:
        return entry.kind in (set(allowed) if allowed else DEFAULT_UPDATE_TYPES)

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed (polling) or delivered (webhook)."""
        return [copy.deepcopy(e.update) for e in self._queue]

    def _confirm(self, offset: int) -> None:
        keep: list[_QueuedUpdate] = []
        for entry in self._queue:
            if entry.forced:
                if not entry.delivered:
                    keep.append(entry)
            elif offset <= 0 or entry.update_id >= offset:
                keep.append(entry)
        if offset < 0:
            normal = [e for e in keep if not e.forced]
            drop = {id(e) for e in normal[: max(0, len(normal) + offset)]}
            keep = [e for e in keep if id(e) not in drop]
        self._queue = keep

    def _take_for_polling(self, limit: int) -> list[JSONDict]:
        batch = [e for e in self._queue if self._allowed(e, self._allowed_updates)]
        batch.sort(key=lambda e: e.update_id)
        batch = batch[:limit]
        for entry in batch:
            entry.delivered = True
        return [copy.deepcopy(e.update) for e in batch]

    # ---------------------------------------------------------------- HTTP handlers

    async def _read_params(self, request: web.Request) -> tuple[JSONDict, dict[str, UploadedFile]]:
        params: JSONDict = {k: _decode_value(k, v) for k, v in request.query.items()}
        files: dict[str, UploadedFile] = {}
        if request.method != "POST" or not request.can_read_body:
            return params, files
        content_type = request.content_type
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = UploadedFile(
                        key, value.filename, value.content_type, value.file.read()
                    )
                elif isinstance(value, str):
                    params[key] = _decode_value(key, value)
                else:
                    params[key] = _decode_value(key, bytes(value).decode())
        else:
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise _bad_request("can't parse JSON body") from exc
                if not isinstance(body, dict):
                    raise _bad_request("JSON body must be an object")
                params.update(body)
        return params, files

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        self._last_token = token
        call = ApiCall(method=method, params={}, token=token, http_method=request.method)
        try:
            call.params, call.files = await self._read_params(request)
        except _ApiError as exc:
            return self._respond(call, exc.status, exc.payload())
        self.calls.append(call)
        self._bump()
        failure = self._take_failure(method)
        if failure is not None:
            payload: JSONDict = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.parameters:
                payload["parameters"] = failure.parameters
            return self._respond(call, failure.status, payload)
        handler = self._methods.get(method.lower())
        if handler is None:
            log.warning("FakeBotApi: unknown method %s%r answered with true", method, call.params)
            self.unknown_methods.append(method)
            return self._respond(call, 200, {"ok": True, "result": True})
        try:
            result = await handler(call)
        except _ApiError as exc:
            return self._respond(call, exc.status, exc.payload())
        return self._respond(call, 200, {"ok": True, "result": result})

    def _respond(self, call: ApiCall, status: int, payload: JSONDict) -> web.Response:
        call.status = status
        call.response = payload
        self._bump()
        body = json.dumps(payload, ensure_ascii=False)
        return web.Response(status=status, text=body, content_type="application/json")

    async def _handle_file(self, request: web.Request) -> web.Response:
        file_path = request.match_info["file_path"]
        for stored in self.files.values():
            if stored.file_path == file_path:
                return web.Response(
                    body=stored.content,
                    content_type=stored.mime_type or "application/octet-stream",
                )
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    # ---------------------------------------------------------------- parameter helpers

    def _chat_id(self, params: JSONDict, key: str = "chat_id") -> int:
        value = params.get(key)
        if value is None or value == "":
            raise _bad_request(f"{key} is empty")
        if isinstance(value, bool):
            raise _bad_request("chat not found")
        if isinstance(value, int):
            return value
        text = str(value)
        if _INT_RE.fullmatch(text):
            return int(text)
        if text.startswith("@"):
            for chat_id, chat in self.chats.items():
                if chat.get("username", "").lower() == text[1:].lower():
                    return chat_id
        raise _bad_request("chat not found")

    @staticmethod
    def _int(params: JSONDict, key: str, default: int | None = None) -> int | None:
        value = params.get(key)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise _bad_request(f'field "{key}" must be an Integer') from exc

    @staticmethod
    def _json(params: JSONDict, key: str) -> Any:
        value = params.get(key)
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise _bad_request(f"can't parse {key} JSON object") from exc
        return value

    @staticmethod
    def _bool(params: JSONDict, key: str) -> bool:
        value = params.get(key)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def _reply_to(self, params: JSONDict) -> int | None:
        reply = self._json(params, "reply_parameters")
        if isinstance(reply, dict) and reply.get("message_id") is not None:
            return int(reply["message_id"])
        return self._int(params, "reply_to_message_id")

    def _render(self, text: str, parse_mode: str | None) -> str:
        if not self.strict_parse_mode:
            try:
                return render_text(text, parse_mode)
            except _ApiError:
                return text
        return render_text(text, parse_mode)

    def _bot_message(self, call: ApiCall, chat_id: int) -> JSONDict:
        params = call.params
        message: JSONDict = {
            "message_id": self._next_message_id(chat_id),
            "from": self._bot_user(call.token),
            "chat": self.chat(chat_id),
            "date": int(time.time()),
        }
        if message["chat"]["type"] == "channel":
            message.pop("from")
            message["sender_chat"] = message["chat"]
        thread = self._int(params, "message_thread_id")
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        reply_to = self._reply_to(params)
        if reply_to is not None:
            message["reply_to_message"] = self._reply_copy(chat_id, reply_to)
        markup = self._json(params, "reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    def _record_sent(
        self, call: ApiCall, message: JSONDict, text: str | None, stored: StoredFile | None = None
    ) -> None:
        self._store(message)
        markup = self._json(call.params, "reply_markup")
        self.sent.append(
            SentMessage(
                method=call.method,
                chat_id=int(message["chat"]["id"]),
                message_id=int(message["message_id"]),
                text=text,
                reply_markup=markup if isinstance(markup, dict) else None,
                parse_mode=call.params.get("parse_mode"),
                reply_to_message_id=self._reply_to(call.params),
                params=dict(call.params),
                message=copy.deepcopy(message),
                file=stored,
            )
        )

    # ---------------------------------------------------------------- methods

    async def _true(self, call: ApiCall) -> bool:
        return True

    async def _get_me(self, call: ApiCall) -> JSONDict:
        me = self._bot_user(call.token)
        me.update(
            {
                "can_join_groups": self.can_join_groups,
                "can_read_all_group_messages": self.can_read_all_group_messages,
                "supports_inline_queries": self.supports_inline_queries,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        )
        return me

    async def _get_updates(self, call: ApiCall) -> list[JSONDict]:
        params = call.params
        if self.webhook_url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = self._int(params, "offset", 0) or 0
        limit = min(max(self._int(params, "limit", 100) or 100, 1), 100)
        try:
            timeout = float(params.get("timeout") or 0)
        except (TypeError, ValueError) as exc:
            raise _bad_request('field "timeout" must be a Number') from exc
        timeout = min(max(timeout, 0.0), self.max_poll_timeout)
        allowed = self._json(params, "allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed] or None

        generation = self._poll_generation.get(call.token, 0) + 1
        self._poll_generation[call.token] = generation
        self._bump()  # an older long poll of this token now ends with 409
        self._confirm(offset)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            if self._poll_generation.get(call.token) != generation:
                raise _ApiError(409, _DEFAULT_DESCRIPTIONS[409])
            if self.webhook_url:
                raise _ApiError(409, "Conflict: webhook was set while polling")
            batch = self._take_for_polling(limit)
            if batch or self._closing:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await self._wait_changed(event, remaining)

    async def _send_message(self, call: ApiCall) -> JSONDict:
        params = call.params
        chat_id = self._chat_id(params)
        text = params.get("text")
        if text is None or str(text) == "":
            raise _bad_request("message text is empty")
        text = str(text)
        plain = self._render(text, params.get("parse_mode"))
        if not plain.strip():
            raise _bad_request("message text is empty")
        if _u16len(plain) > 4096:
            raise _bad_request("message is too long")
        message = self._bot_message(call, chat_id)
        message["text"] = plain
        entities = self._json(params, "entities")
        if isinstance(entities, list) and entities:
            message["entities"] = entities
        self._record_sent(call, message, text)
        return message

    def _input_file(self, call: ApiCall, key: str, kind: str, mime_type: str | None) -> StoredFile:
        value = call.params.get(key)
        upload = call.files.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = call.files.get(value[len("attach://") :])
        if upload is not None:
            return self.register_file(
                upload.content,
                kind=kind,
                mime_type=upload.content_type or mime_type,
                file_name=upload.filename,
            )
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self.register_file(b"", kind=kind, mime_type=mime_type)
        raise _bad_request("wrong file identifier/HTTP URL specified")

    async def _send_media(self, call: ApiCall) -> JSONDict:
        params = call.params
        kind = call.method.lower()[len("send") :]  # photo, document, voice, ...
        chat_id = self._chat_id(params)
        folders = {"photo": "photos", "document": "documents", "voice": "voice"}
        mimes = {"photo": "image/jpeg", "voice": "audio/ogg", "audio": "audio/mpeg"}
        stored = self._input_file(call, kind, folders.get(kind, kind + "s"), mimes.get(kind))
        message = self._bot_message(call, chat_id)
        caption = params.get("caption")
        if caption is not None and str(caption) != "":
            caption = str(caption)
            message["caption"] = self._render(caption, params.get("parse_mode"))
            caption_entities = self._json(params, "caption_entities")
            if isinstance(caption_entities, list) and caption_entities:
                message["caption_entities"] = caption_entities
        else:
            caption = None
        base = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
        }
        duration = self._int(params, "duration", 1)
        width = self._int(params, "width", 640)
        height = self._int(params, "height", 480)
        if kind == "photo":
            message["photo"] = self._photo_sizes(stored, 800, 600)
        elif kind == "document":
            message["document"] = {
                **base,
                "file_name": stored.file_name or "document",
                "mime_type": stored.mime_type or "application/octet-stream",
            }
        elif kind in ("voice", "audio"):
            message[kind] = {**base, "duration": duration, "mime_type": stored.mime_type}
        else:  # video, animation
            message[kind] = {**base, "duration": duration, "width": width, "height": height}
        self._record_sent(call, message, caption, stored)
        return message

    async def _send_location(self, call: ApiCall) -> JSONDict:
        params = call.params
        chat_id = self._chat_id(params)
        try:
            latitude = float(params["latitude"])
            longitude = float(params["longitude"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad_request("latitude and longitude are required") from exc
        message = self._bot_message(call, chat_id)
        message["location"] = {"latitude": latitude, "longitude": longitude}
        self._record_sent(call, message, None)
        return message

    async def _edit_message(self, call: ApiCall) -> JSONDict | bool:
        params = call.params
        method = call.method.lower()
        inline_id = params.get("inline_message_id")
        markup = self._json(params, "reply_markup")
        markup = markup if isinstance(markup, dict) else None
        text: str | None = None
        if method == "editmessagetext":
            raw = params.get("text")
            if raw is None or str(raw) == "":
                raise _bad_request("message text is empty")
            text = str(raw)
        elif method == "editmessagecaption":
            text = str(params.get("caption") or "")

        if inline_id:
            self.edits.append(
                EditRecord(call.method, None, None, text, markup, dict(params), str(inline_id))
            )
            return True

        chat_id = self._chat_id(params)
        message_id = self._int(params, "message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        key = (chat_id, message_id)
        if key not in self.messages:
            raise _bad_request("message to edit not found")
        original = self.messages[key]
        if original.get("from", {}).get("is_bot") is not True and "sender_chat" not in original:
            raise _bad_request("message can't be edited")
        message = copy.deepcopy(original)

        if method == "editmessagetext":
            assert text is not None
            message["text"] = self._render(text, params.get("parse_mode"))
            message.pop("entities", None)
            entities = self._json(params, "entities")
            if isinstance(entities, list) and entities:
                message["entities"] = entities
        elif method == "editmessagecaption":
            assert text is not None
            rendered = self._render(text, params.get("parse_mode")) if text else ""
            message.pop("caption_entities", None)
            if rendered:
                message["caption"] = rendered
            else:
                message.pop("caption", None)
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)

        def comparable(m: JSONDict) -> tuple[Any, ...]:
            return (m.get("text"), m.get("caption"), m.get("entities"), m.get("reply_markup"))

        if comparable(message) == comparable(original):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        message["edit_date"] = int(time.time())
        self._store(message)
        self.edits.append(
            EditRecord(call.method, chat_id, message_id, text, markup, dict(params), None)
        )
        return message

    async def _delete_message(self, call: ApiCall) -> bool:
        chat_id = self._chat_id(call.params)
        message_id = self._int(call.params, "message_id")
        if message_id is None or (chat_id, message_id) not in self.messages:
            raise _bad_request("message to delete not found")
        del self.messages[(chat_id, message_id)]
        self.deleted.append((chat_id, message_id))
        return True

    async def _answer_callback_query(self, call: ApiCall) -> bool:
        params = call.params
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._callback_ids:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                text=params.get("text"),
                show_alert=self._bool(params, "show_alert"),
                url=params.get("url"),
                cache_time=self._int(params, "cache_time"),
                params=dict(params),
            )
        )
        return True

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if not isinstance(scope, dict):
            scope = {"type": "default"}
        return json.dumps(scope, sort_keys=True)

    async def _set_my_commands(self, call: ApiCall) -> bool:
        params = call.params
        commands = self._json(params, "commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        scope = self._json(params, "scope")
        language = params.get("language_code") or ""
        self._my_commands[(self._scope_key(scope), language)] = commands
        self.commands.append(
            CommandsCall(
                call.method, commands, scope if isinstance(scope, dict) else None, language or None
            )
        )
        return True

    async def _get_my_commands(self, call: ApiCall) -> list[JSONDict]:
        scope = self._json(call.params, "scope")
        language = call.params.get("language_code") or ""
        return copy.deepcopy(self._my_commands.get((self._scope_key(scope), language), []))

    async def _delete_my_commands(self, call: ApiCall) -> bool:
        scope = self._json(call.params, "scope")
        language = call.params.get("language_code") or ""
        self._my_commands.pop((self._scope_key(scope), language), None)
        self.commands.append(
            CommandsCall(
                call.method, [], scope if isinstance(scope, dict) else None, language or None
            )
        )
        return True

    async def _set_webhook(self, call: ApiCall) -> bool:
        params = call.params
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and secret != "" and not _SECRET_RE.fullmatch(str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        if url and not url.startswith(("http://", "https://")):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if self._bool(params, "drop_pending_updates"):
            self._queue.clear()
        allowed = self._json(params, "allowed_updates")
        if isinstance(allowed, list):
            self._webhook_allowed = [str(a) for a in allowed] or None
        self.webhook_url = url or None
        self.webhook_secret = str(secret) if secret else None
        self.webhook_last_error = None
        self._bump()
        return True

    async def _delete_webhook(self, call: ApiCall) -> bool:
        if self._bool(call.params, "drop_pending_updates"):
            self._queue.clear()
        self.webhook_url = None
        self.webhook_secret = None
        self._bump()
        return True

    async def _get_webhook_info(self, call: ApiCall) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook_url:
            info["max_connections"] = 40
            info["ip_address"] = "127.0.0.1"
            if self._webhook_allowed:
                info["allowed_updates"] = self._webhook_allowed
        if self.webhook_last_error is not None:
            info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info

    async def _get_file(self, call: ApiCall) -> JSONDict:
        file_id = str(call.params.get("file_id") or "")
        stored = self.files.get(file_id)
        if stored is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": stored.file_path,
        }

    async def _get_chat(self, call: ApiCall) -> JSONDict:
        chat = self.chat(self._chat_id(call.params))
        chat.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        if chat["type"] in ("group", "supergroup"):
            chat["permissions"] = {
                "can_send_messages": True,
                "can_send_photos": True,
                "can_send_documents": True,
                "can_send_voice_notes": True,
                "can_send_polls": True,
                "can_send_other_messages": True,
                "can_add_web_page_previews": True,
                "can_change_info": False,
                "can_invite_users": True,
                "can_pin_messages": False,
            }
        return chat

    def _member(self, chat_id: int, user: JSONDict, status: str) -> JSONDict:
        member: JSONDict = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                    "can_pin_messages": True,
                }
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    async def _get_chat_member(self, call: ApiCall) -> JSONDict:
        chat_id = self._chat_id(call.params)
        user_id = self._int(call.params, "user_id")
        if user_id is None:
            raise _bad_request("user_id is empty")
        bot = self._bot_user(call.token)
        if user_id == bot["id"]:
            user, status = bot, self.members.get((chat_id, user_id), "administrator")
        else:
            user, status = self.user(user_id), self.members.get((chat_id, user_id), "member")
        return self._member(chat_id, user, status)

    async def _get_chat_administrators(self, call: ApiCall) -> list[JSONDict]:
        chat_id = self._chat_id(call.params)
        admins = [
            self._member(chat_id, self.user(user_id), status)
            for (member_chat, user_id), status in self.members.items()
            if member_chat == chat_id and status in ("creator", "administrator")
        ]
        return admins

    async def _get_chat_member_count(self, call: ApiCall) -> int:
        chat_id = self._chat_id(call.params)
        return max(2, sum(1 for (c, _u) in self.members if c == chat_id))

    # ---------------------------------------------------------------- webhook push

    def _next_webhook_entry(self) -> _QueuedUpdate | None:
        if not self.webhook_url:
            return None
        for entry in sorted(self._queue, key=lambda e: e.update_id):
            if self._allowed(entry, self._webhook_allowed):
                return entry
        return None

    async def _webhook_loop(self) -> None:
        while not self._closing:
            event = self._changed
            entry = self._next_webhook_entry()
            if entry is None:
                await event.wait()
                continue
            await self._push(entry)

    async def _push(self, entry: _QueuedUpdate) -> None:
        assert self._session is not None
        delay = self.webhook_retry_delay
        for attempt in range(1, self.webhook_max_attempts + 1):
            url, secret = self.webhook_url, self.webhook_secret
            if not url:
                return  # webhook removed meanwhile: the update stays pending for getUpdates
            headers = {"Content-Type": "application/json"}
            if secret:
                headers["X-Telegram-Bot-Api-Secret-Token"] = secret
            record = WebhookDelivery(entry.update_id, url, attempt, None, secret_token=secret)
            try:
                async with self._session.post(
                    url, data=json.dumps(entry.update, ensure_ascii=False), headers=headers
                ) as response:
                    await response.read()
                    record.status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                record.error = f"{type(exc).__name__}: {exc}"
            self.webhook_deliveries.append(record)
            if record.ok:
                self._remove(entry)
                self._bump()
                return
            message = record.error or f"Wrong response from the webhook: {record.status}"
            self.webhook_last_error = (int(time.time()), message)
            self._bump()
            if attempt < self.webhook_max_attempts:
                await asyncio.sleep(delay)
                delay *= 2
        log.warning("FakeBotApi: webhook gave up on update %s", entry.update_id)
        self._remove(entry)
        self._bump()

    def _remove(self, entry: _QueuedUpdate) -> None:
        self._queue = [e for e in self._queue if e is not entry]


def _decode_value(key: str, value: str) -> Any:
    """Turn a form/query string back into the JSON value PTB encoded."""
    if key in _STRING_PARAMS:
        return value
    if value in ("true", "false"):
        return value == "true"
    if _INT_RE.fullmatch(value):
        return int(value)
    if _FLOAT_RE.fullmatch(value):
        return float(value)
    if value[:1] in ("{", "[") or value == "null":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
