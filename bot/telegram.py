"""The Telegram door (python-telegram-bot 22): updates in, outbox rows out. No business rule here.

In.  Polling by default; a webhook route on the admin app when TELEGRAM_WEBHOOK_URL is set. Either
     way an update is recorded in the inbox before Telegram is told it arrived, and only then
     decided (handlers.intake). Telegram delivers again whatever it was not told about; the inbox
     makes that harmless. Polling is our own getUpdates loop on PTB's bot rather than PTB's
     Updater: the Updater confirms a batch (by asking for the next offset) as soon as the batch
     is queued in memory, before any handler ran, so a crash would lose it. Here the offset
     passes an update only once the update is recorded.
Out. `TelegramTransport.send(row)` delivers one outbox row. The root builds the sender of the
     "telegram" rows from it and from Telegram's limits (`send_limits`); the door runs that
     sender once connected and wakes it after each update, so an acknowledgment goes out at
     once rather than at the next round.

`TelegramDoor.accept` is the one list of what the bot reads: messages (text, captions, photos,
voice, documents, locations) in groups and private chats, their edits, button presses, and the
bot being added to a group. Other bots, channel posts and service messages (joins, pins) are
ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import json
import logging
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram import PollAnswer as TelegramPollAnswer  # votes.PollAnswer is the neutral one
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder
from telegram.helpers import mention_html

from handlers import registry, texts, votes
from handlers.buttons import button_state
from handlers.deps import Deps
from handlers.edits import receive_edit
from handlers.intake import Handled, receive, receive_many
from handlers.outbox import to_chat
from handlers.voice import hear, sound, voice_file, wants_words
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
from storage.db import session_scope
from storage.models import Outbox

log = logging.getLogger(__name__)

PLATFORM = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "poll_answer"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_WEBHOOK_PATH = "/telegram/webhook"
POLL_TIMEOUT = timedelta(seconds=30)  # long poll
MAX_BACKOFF = 30.0
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the Bot API serves files up to 20 MB
# An update is a few KB (a 4,096-character message and its metadata); 1 MiB leaves room for
# any real one and refuses a flood.
MAX_WEBHOOK_BODY = 1024 * 1024
TEXT_LIMIT = 4096  # Telegram's limits, in UTF-16 code units
CAPTION_LIMIT = 1024
ANSWER_LIMIT = 200  # answerCallbackQuery text
WAKE_EVERY = 0.02  # seconds: a burst of updates wakes the sender once per this, not per update
ADMINS = (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
_OTHER_BOT_COMMAND = re.compile(r"^/[A-Za-z0-9_]+@([A-Za-z0-9_]+)")

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
T = TypeVar("T")


def send_limits(settings: Settings) -> PlatformLimits:
    """What Telegram lets a bot send (about 30 messages a second overall, one a second in a
    chat, 20 a minute in a group), as TELEGRAM_* set them for this process. Rows are never
    merged: each has its own buttons and reply."""
    return PlatformLimits(
        overall=at_most(settings.telegram_max_per_second, 1.0),
        chat=at_most(settings.telegram_chat_max_per_second, 1.0),
        group=at_most(settings.telegram_group_max_per_minute, 60.0),
    )


# --------------------------------------------------------------------------------------------
# out: outbox rows → sendMessage
# --------------------------------------------------------------------------------------------


class TelegramTransport:
    """Sends one outbox row: HTML text, the group's addressee as a mention, buttons as an inline
    keyboard, as a reply when the row answers a message, with its picture (a digest chart) when
    it has one."""

    platform = PLATFORM
    polls: PollBook | None = None  # the door's, for votes sent as native polls (议事)

    def __init__(self, bot: Bot, names: Callable[[str, int], Awaitable[str | None]]) -> None:
        self.bot = bot
        self.names = names  # (sender key, chat id) → display name for a mention

    async def send(self, row: Outbox) -> str:
        try:
            return await self._send(row)
        except RetryAfter as exc:
            raise TransientError(f"Telegram: {exc}", retry_after=retry_seconds(exc)) from exc
        except ChatMigrated as exc:
            raise PermanentError(
                f"Telegram chat {row.chat} is now telegram:{exc.new_chat_id}; put that in the grid"
            ) from exc
        except (Forbidden, BadRequest, InvalidToken) as exc:
            raise PermanentError(f"Telegram refused the message to {row.chat}: {exc}") from exc
        except NetworkError as exc:  # timeouts, 5xx, a dropped connection
            raise TransientError(f"Telegram: {exc}") from exc

    async def _send(self, row: Outbox) -> str:
        if row.category in (votes.CATEGORY, votes.RESULT_CATEGORY):
            poll = await self._send_vote(row)
            if poll is not None:
                return poll
        chat_id = int(row.chat)
        text = html.escape(_cut(row.text, TEXT_LIMIT))
        if row.mention and not row.private:
            name = await self.names(row.mention, chat_id)
            if name:
                text = f"{mention_html(row.mention.partition(':')[2], name)} {text}"
        markup = keyboard(row.buttons)
        reply = _reply_parameters(row.reply_to)
        image = getattr(row, "image", None)
        if image and Path(image).is_file():
            fits = _utf16(row.text) <= CAPTION_LIMIT
            photo = await self.bot.send_photo(
                chat_id,
                Path(image).read_bytes(),
                caption=text if fits else None,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if fits else None,
                reply_parameters=reply,
            )
            if fits:
                return str(photo.message_id)
        sent = await self.bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            reply_parameters=reply,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
        return str(sent.message_id)

    async def _send_vote(self, row: Outbox) -> str | None:
        """议事 on Telegram: a vote goes out as a native, non-anonymous poll (its answers come
        back as poll_answer updates); before its result, the poll is stopped and the result
        answers it. None: send the row as text (no poll book, or the vote is over)."""
        vote_id = votes.vote_of_row(row.dedupe_key)
        if self.polls is None or vote_id is None:
            return None
        chat_id = int(row.chat)
        if row.category == votes.RESULT_CATEGORY:
            message_id = await self.polls.message(vote_id, row.chat)
            if message_id is not None:
                try:
                    await self.bot.stop_poll(chat_id, int(message_id))
                except BadRequest as exc:  # stopped already (this row tried before)
                    log.info("stopPoll %s in %s: %s", message_id, row.chat, exc)
                row.reply_to = row.reply_to or message_id
            return None
        form = await self.polls.form(vote_id)
        if form is None:
            return None
        question, choices = form
        # Non-anonymous (answers name who voted), changeable (the last one counts), only the
        # group's members may answer.
        sent = await self.bot.send_poll(
            chat_id,
            question,
            choices,
            is_anonymous=False,
            allows_revoting=True,
            members_only=True,
        )
        assert sent.poll is not None
        await self.polls.sent(vote_id, row.chat, sent.poll.id, str(sent.message_id))
        return str(sent.message_id)


class PollBook:
    """What the Telegram door keeps of its native polls (议事), in the database: what a vote
    shows as a poll, the poll ids that poll answers name, the message to stop at the end."""

    def __init__(self, engine: Engine, db: DatabaseWork, tz: Any) -> None:
        self.engine, self.db, self.tz = engine, db, tz

    async def form(self, vote_id: int) -> tuple[str, list[str]] | None:
        return await self.db(votes.poll_form, self.engine, vote_id=vote_id, tz=self.tz)

    async def sent(self, vote_id: int, chat: str, poll_id: str, message_id: str) -> None:
        await self.db(
            votes.record_poll,
            self.engine,
            vote_id=vote_id,
            chat=chat,
            poll_id=poll_id,
            message_id=message_id,
        )

    async def message(self, vote_id: int, chat: str) -> str | None:
        return await self.db(votes.poll_message, self.engine, vote_id=vote_id, chat=chat)


BUTTONS_PER_ROW = 2  # a phone shows two labels side by side without cutting them


def keyboard(buttons: str) -> InlineKeyboardMarkup | None:
    """The outbox's JSON [[label, data], …] as rows of two inline buttons."""
    pairs = json.loads(buttons or "[]")
    if not pairs:
        return None
    keys = [InlineKeyboardButton(label, callback_data=data) for label, data in pairs]
    return InlineKeyboardMarkup(
        [keys[i : i + BUTTONS_PER_ROW] for i in range(0, len(keys), BUTTONS_PER_ROW)]
    )


def _reply_parameters(reply_to: str | None) -> ReplyParameters | None:
    # A button press has no message to answer ("cb:…"): then the reply simply follows.
    if not reply_to or not reply_to.isdigit():
        return None
    return ReplyParameters(int(reply_to), allow_sending_without_reply=True)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> str:
    if _utf16(text) <= limit:
        return text
    room = limit - _utf16(texts.TG_CUT) - 64  # the mention goes in front
    return text.encode("utf-16-le")[: room * 2].decode("utf-16-le", "ignore") + texts.TG_CUT


def retry_seconds(exc: RetryAfter) -> float:
    # The private timedelta avoids PTB 22's deprecation warning on the int property.
    value: Any = getattr(exc, "_retry_after", None)
    if not isinstance(value, timedelta):
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# --------------------------------------------------------------------------------------------
# in: updates → inbox → decisions
# --------------------------------------------------------------------------------------------


@dataclass
class Accepted:
    """An update recorded in the inbox and decided; what is left to do on Telegram's side."""

    chat: int
    handled: Handled | None = None
    query: CallbackQuery | None = None  # a button press to answer
    group: bool = False  # a group message: the privacy-mode notice may be due
    member_status: str | None = None  # the bot's status in the group, when known


BURST = 8  # new messages decided in one transaction (bench/intake.py: most of the gain by 8)


def bursts(updates: Sequence[Update]) -> list[list[Update]]:
    """The updates in order, consecutive new messages together (at most BURST), every other
    kind of update (a button press, an edit, a membership change) on its own."""
    runs: list[list[Update]] = []
    for update in updates:
        plain = update.message is not None
        if plain and runs and len(runs[-1]) < BURST and runs[-1][-1].message is not None:
            runs[-1].append(update)
        else:
            runs.append([update])
    return runs


class TelegramDoor(Door):
    """The door of one bot account: polling or the webhook in, `transport` out. Built by the
    root (bot.app.telegram_door), which mounts the webhook route and builds the sender."""

    platform = PLATFORM
    asr: SpeechToText | None = None  # speech to text for voice messages: the root's, when on

    def __init__(self, app: Runtime[Deps]) -> None:
        settings = app.settings
        if not settings.telegram_bot_token:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.app = app
        self.engine: Engine = app.engine
        self.deps: Deps = app.deps
        self.limits = send_limits(settings)
        self.webhook_url = settings.telegram_webhook_url
        self.webhook_path = urlsplit(self.webhook_url).path or DEFAULT_WEBHOOK_PATH
        self.secret = settings.telegram_webhook_secret or _derived_secret(
            settings.telegram_bot_token
        )
        # Absolute, as the WeChat door stores them: the admin serves the file whatever its cwd.
        self.files = (Path(settings.data_dir) / "attachments").resolve()
        self.application = build_application(
            settings.telegram_bot_token, settings.telegram_base_url
        )
        self.bot: Bot = self.application.bot
        self.transport = TelegramTransport(self.bot, self._mention_name)
        self.sender: OutboxSender | None = None  # the root's, for the "telegram" rows: `start`
        self.username = ""
        self.reads_all = True  # getMe's can_read_all_group_messages (privacy mode off)
        self.connected = asyncio.Event()
        self._one_at_a_time = asyncio.Lock()  # updates are decided in the order they came
        self._queue: asyncio.Queue[Accepted] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._names: dict[str, str] = {}
        self._privacy_checked: set[int] = set()
        self._offset = 0
        self._waker = SenderWaker(self._wake_sender, WAKE_EVERY)
        self.db = DatabaseWork()
        self.transport.polls = PollBook(self.engine, self.db, app.clock.tz)

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.db(fn, *args, **kwargs)

    def _wake_sender(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    # ---------------------------------------------------------------- lifecycle

    async def start(self, sender: OutboxSender) -> None:
        """Connect (retrying while Telegram is unreachable) and serve, in the background;
        `sender` delivers the "telegram" rows once connected."""
        self.sender = sender
        self._status(state="connecting", mode="webhook" if self.webhook_url else "polling")
        self._tasks = [asyncio.create_task(self._run(), name="telegram")]

    async def stop(self) -> None:
        for task in self._tasks:
            # Again until it ends: under Python 3.11 asyncio.wait_for may swallow a cancel that
            # arrives just as its wait ends.
            while not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=1.0)
            if not task.cancelled() and task.exception() is not None:
                log.error("%s stopped: %r", task.get_name(), task.exception())
        self._tasks = []
        if self.connected.is_set() and not self.webhook_url and self._offset:
            with contextlib.suppress(TelegramError):  # tell Telegram what was recorded
                await self.bot.get_updates(offset=self._offset, limit=1, timeout=0)
        with contextlib.suppress(Exception):
            await self.application.shutdown()
        self._status(state="stopped")

    async def _run(self) -> None:
        await self._connect()
        assert self.sender is not None
        self._tasks.append(asyncio.create_task(self.sender.run_forever(), name="telegram-sender"))
        if self.webhook_url:
            while True:  # the route records and decides; what follows is done here
                await self._finish_safely(await self._queue.get())
        else:
            await self._poll()

    async def _connect(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.application.initialize()
                if self.webhook_url:
                    await self.bot.set_webhook(
                        self.webhook_url, secret_token=self.secret, allowed_updates=ALLOWED_UPDATES
                    )
                else:
                    await self.bot.delete_webhook()
                break
            except InvalidToken:
                self._status(state="error", error="Telegram rejected the bot token")
                log.error("Telegram rejected TELEGRAM_BOT_TOKEN; the Telegram door is off")
                raise
            except (NetworkError, RetryAfter) as exc:
                self._status(state="error", error=str(exc))
                log.warning("Telegram unreachable (%s); trying again in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
        me = self.bot.bot
        self.username = me.username or ""
        self.reads_all = bool(me.can_read_all_group_messages)
        if not self.reads_all:
            log.warning(
                "@%s runs in privacy mode and sees only commands and replies in groups; "
                "turn it off in @BotFather (/setprivacy) or make the bot a group admin",
                self.username,
            )
        await self._set_commands()
        self.connected.set()
        self._status(
            state="connected",
            mode="webhook" if self.webhook_url else "polling",
            bot=f"@{self.username}",
            privacy_mode=not self.reads_all,
            error=None,
        )

    async def _set_commands(self) -> None:
        menus = [
            (registry.menu("group"), BotCommandScopeAllGroupChats()),
            (registry.menu("private"), BotCommandScopeAllPrivateChats()),
        ]
        for menu, scope in menus:
            try:
                await self.bot.set_my_commands([BotCommand(c, d) for c, d in menu], scope=scope)
            except TelegramError as exc:  # a menu is a comfort, not a reason to stop
                log.warning("setMyCommands failed: %s", exc)

    # ---------------------------------------------------------------- polling

    async def _poll(self) -> None:
        delay = 1.0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=self._offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
                )
            except InvalidToken:
                self._status(state="error", error="Telegram rejected the bot token")
                raise
            except (NetworkError, Conflict, RetryAfter) as exc:
                wait = retry_seconds(exc) if isinstance(exc, RetryAfter) else delay
                self._status(state="error", error=str(exc))
                log.warning("getUpdates failed (%s); trying again in %.0fs", exc, wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            if delay > 1.0:
                self._status(state="connected", error=None)
                delay = 1.0
            for run in bursts(updates):
                if len(run) > 1:
                    burst = await self._accept_burst_until_recorded(run)
                    if burst is not None:
                        self._offset = run[-1].update_id + 1
                        for done in burst:
                            await self._finish_safely(done)
                        continue
                for update in run:
                    accepted = await self._accept_until_recorded(update)
                    self._offset = update.update_id + 1
                    if accepted is not None:
                        await self._finish_safely(accepted)

    async def _accept_until_recorded(self, update: Update) -> Accepted | None:
        """One update; None when it could not be read (a bug on this one update: skipped
        rather than stopping the door)."""
        return await self._until_recorded(lambda: self.accept(update), update.update_id)

    async def _accept_burst_until_recorded(self, run: list[Update]) -> list[Accepted] | None:
        """New messages that came in one getUpdates answer, recorded and decided in one
        transaction (handlers.intake.receive_many: the same outcome as one by one, at a
        fraction of the cost per message). None when one of them could not be read: the run
        is then taken one update at a time."""
        return await self._until_recorded(lambda: self._accept_burst(run), run[0].update_id)

    async def _until_recorded(self, accept: Callable[[], Awaitable[T]], first: int) -> T | None:
        """Never pass updates that could not be recorded: while the database is away, wait;
        None when they could not be read."""
        delay = 0.5
        while True:
            try:
                return await accept()
            except (OperationalError, InterfaceError) as exc:  # the database is away: wait
                self._status(state="error", error=f"database: {str(exc)[:200]}")
                log.warning("could not record update %s (%s); retrying", first, type(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
            except Exception:
                # Anything else is about this update, not the database: waiting for it would
                # stall every update after it (intake keeps what it can of the message).
                log.exception("update %s could not be read", first)
                return None

    async def _accept_burst(self, run: list[Update]) -> list[Accepted]:
        async with self._one_at_a_time:
            msgs: list[Incoming] = []
            chats: list[int] = []
            for update in run:
                message = update.message
                assert message is not None  # bursts() groups new messages only
                msg = await self._inbound(message, str(message.message_id), message.date)
                if msg is not None:
                    msgs.append(msg)
                    chats.append(message.chat.id)
            handled = await self._db(receive_many, self.engine, self.deps, msgs)
        return [
            Accepted(chat, done, group=not msg.private)
            for chat, done, msg in zip(chats, handled, msgs, strict=True)
        ]

    # ---------------------------------------------------------------- webhook

    def secret_ok(self, secret: str | None) -> bool:
        return secret is not None and secrets.compare_digest(secret.encode(), self.secret.encode())

    async def receive_webhook(self, secret: str | None, body: bytes) -> int:
        """The webhook route's work: check, record (and decide), answer. The HTTP status."""
        if not self.secret_ok(secret):
            return 403
        try:
            update = Update.de_json(json.loads(body), self.bot)
        except Exception as exc:  # not an update: sending it again will not make it one
            log.warning("webhook body is not an update: %s", exc)
            return 400
        try:
            accepted = await self.accept(update)
        except Exception as exc:
            log.exception(  # the id only: the update holds what people wrote
                "could not record update %s; Telegram will send it again", update.update_id
            )
            # Not ready (/readyz) until an update is recorded again: a load balancer sends
            # the next one elsewhere, a monitor turns red.
            self._status(state="error", error=f"database: {str(exc).splitlines()[0][:200]}")
            return 500
        if self.app.status.get(PLATFORM, {}).get("state") == "error":
            self._status(state="connected", error=None)
        if accepted is not None:
            self._queue.put_nowait(accepted)
        return 200

    # ---------------------------------------------------------------- what the bot reads

    async def accept(self, update: Update) -> Accepted | None:
        """Record one update in the inbox and decide it; None when there is nothing for the bot
        in it. Raises when it could not be recorded."""
        async with self._one_at_a_time:
            if update.callback_query is not None:
                return await self._accept_press(update.callback_query)
            if update.message is not None:
                return await self._accept_message(update.message)
            if update.edited_message is not None:
                return await self._accept_edit(update.edited_message)
            if update.my_chat_member is not None:
                return self._accept_membership(update.my_chat_member)
            if update.poll_answer is not None:
                return await self._accept_poll_answer(update.poll_answer)
            return None  # channel posts, edited channel posts, anything else

    async def _accept_message(self, message: Message) -> Accepted | None:
        msg = await self._inbound(message, str(message.message_id), message.date)
        if msg is None:
            return None
        handled = await self._db(receive, self.engine, self.deps, msg)
        return Accepted(message.chat.id, handled, group=not msg.private)

    async def _accept_edit(self, message: Message) -> Accepted | None:
        edited_at = message.edit_date or message.date
        edit_id = f"{message.message_id}~{int(edited_at.timestamp())}"
        msg = await self._inbound(message, edit_id, edited_at)
        if msg is None:
            return None
        edited = await self._db(
            receive_edit, self.engine, self.deps, msg, edited_id=str(message.message_id)
        )
        log.debug("edit of %s in %s: %s", message.message_id, msg.chat, edited.outcome)
        return Accepted(message.chat.id)

    async def _accept_press(self, query: CallbackQuery) -> Accepted | None:
        pressed = query.message
        if query.from_user.is_bot or pressed is None:
            return None
        self._remember(query.from_user)
        msg = Incoming(
            platform=PLATFORM,
            chat=str(pressed.chat.id),
            sender=str(query.from_user.id),
            sender_name=query.from_user.full_name,
            text="",
            message_id=f"cb:{query.id}",
            at=self.app.clock.now(),
            private=pressed.chat.type == ChatType.PRIVATE,
            reply_to=str(pressed.message_id),
            button=query.data or "",
            chat_title=pressed.chat.title or "",
        )
        handled = await self._db(receive, self.engine, self.deps, msg)
        return Accepted(pressed.chat.id, handled, query=query)

    async def _accept_poll_answer(self, answer: TelegramPollAnswer) -> Accepted | None:
        """议事: an answer to a vote's poll, handed to handlers.votes as a neutral PollAnswer
        (the poll names no chat; the vote it belongs to is found by its id)."""
        user = answer.user
        if user is None or user.is_bot:
            return None  # an anonymous poll's answer: the bot sends none
        self._remember(user)
        ballot = votes.PollAnswer(
            platform=PLATFORM,
            poll_id=answer.poll_id,
            voter=f"{PLATFORM}:{user.id}",
            voter_name=user.full_name,
            options=tuple(answer.option_ids),
            at=self.app.clock.now(),
        )
        await self._db(votes.receive_answer, self.engine, self.deps, ballot)
        return None

    def _accept_membership(self, change: ChatMemberUpdated) -> Accepted | None:
        """The bot added to a group: the moment to say whether it can read the group."""
        joined = change.new_chat_member.status not in (
            ChatMemberStatus.LEFT,
            ChatMemberStatus.BANNED,
        )
        if not joined or change.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
            return None
        return Accepted(change.chat.id, group=True, member_status=change.new_chat_member.status)

    async def _inbound(self, message: Message, message_id: str, at: datetime) -> Incoming | None:
        user = message.from_user
        if user is None or user.is_bot or message.sender_chat is not None:
            return None  # other bots, channels, anonymous admins
        if message.chat.type == ChatType.CHANNEL:
            return None
        text = message.text or message.caption or ""
        if not text and message.effective_attachment is None:
            if message.migrate_to_chat_id:
                log.warning(
                    "Telegram group %s is now supergroup telegram:%s; put that in the grid",
                    message.chat.id,
                    message.migrate_to_chat_id,
                )
            return None  # service messages: joins, pins, title changes …
        m = _OTHER_BOT_COMMAND.match(text)
        if m and self.username and m.group(1).lower() != self.username.lower():
            return None  # /claim@other_bot is not for us
        self._remember(user)
        replied = message.reply_to_message
        if replied is not None and replied.forum_topic_created is not None:
            replied = None  # in a forum topic every message "replies" to the topic's start
        msg = Incoming(
            platform=PLATFORM,
            chat=str(message.chat.id),
            sender=str(user.id),
            sender_name=user.full_name,
            text=text,
            message_id=message_id,
            at=at.astimezone(self.app.clock.tz),
            private=message.chat.type == ChatType.PRIVATE,
            reply_to=str(replied.message_id) if replied is not None else None,
            attachments=await self._attachments(message),
            chat_title=message.chat.title or "",
        )
        return await self._hear(msg)

    async def _attachments(self, message: Message) -> tuple[Attachment, ...]:
        found: list[Attachment] = []
        media: Any = None
        kind = ""
        if message.photo:
            kind, media = "photo", message.photo[-1]  # the largest size
        elif message.voice or message.audio:
            kind, media = "voice", message.voice or message.audio
        elif message.animation or message.video or message.video_note:
            kind, media = "video", message.animation or message.video or message.video_note
        elif message.document:
            kind, media = "document", message.document
        elif message.sticker:
            kind, media = "sticker", message.sticker
        if media is not None:
            keep = kind in ("photo", "voice", "document")
            path = await self._download(media) if keep else None
            found.append(Attachment(kind, media.file_id, path))
        if message.location is not None:
            place = message.location
            found.append(Attachment("location", note=f"{place.latitude},{place.longitude}"))
        return tuple(found)

    async def _download(self, media: Any) -> str | None:
        """The file in data/attachments, named by Telegram's unique id (so a redelivered update
        does not fetch it again); None when it is too big or the download failed."""
        if (media.file_size or 0) > DOWNLOAD_LIMIT:
            return None
        unique = str(media.file_unique_id)
        self.files.mkdir(parents=True, exist_ok=True)
        for existing in self.files.glob(f"{unique}*"):
            if existing.stem == unique and existing.suffix != ".part":
                return str(existing)
        try:
            remote = await media.get_file()
            path = self.files / (unique + PurePosixPath(remote.file_path or "").suffix[:12])
            part = path.with_name(path.name + ".part")
            await remote.download_to_drive(part)
            part.replace(path)
            return str(path)
        except (TelegramError, OSError) as exc:
            log.warning("could not download %s (%s); keeping its file id", media.file_id, exc)
            return None

    # ---------------------------------------------------------------- voice

    async def _hear(self, msg: Incoming) -> Incoming:
        """A voice message with its words (handlers.voice), when speech to text is on: the
        sound is the file just downloaded, as Telegram keeps it (OGG/Opus for a voice note)."""
        if not wants_words(self.asr, msg):
            return msg
        sound = await asyncio.to_thread(voice_of, msg)
        return await hear(self.asr, replace(msg, voice=sound)) if sound else msg

    # ---------------------------------------------------------------- after recording

    async def finish(self, accepted: Accepted) -> None:
        """What follows a decision on Telegram's side: send what is owed, answer a button press,
        warn a group the bot cannot read."""
        self._waker.wake()
        if accepted.query is not None:
            await self._answer(accepted.query, accepted.handled)
        if accepted.group and not self.reads_all:
            await self._privacy_notice(accepted.chat, accepted.member_status)
        self._status(last_update=self.app.clock.now())

    async def _finish_safely(self, accepted: Accepted) -> None:
        try:
            await self.finish(accepted)
        except Exception:  # recorded and decided already; only the extras are lost
            log.exception("after a Telegram update in chat %s", accepted.chat)

    async def _answer(self, query: CallbackQuery, handled: Handled | None) -> None:
        answer = handled.answer if handled is not None else None
        try:
            await query.answer(
                text=answer[:ANSWER_LIMIT] if answer else None,
                show_alert=bool(handled is not None and handled.alert),
            )
        except TelegramError as exc:  # too old, or answered before a redelivery
            log.info("answerCallbackQuery %s: %s", query.id, exc)
        pressed = query.message
        if handled is None or handled.edit_issue is None or not isinstance(pressed, Message):
            return
        await self._show_state(pressed, handled.edit_issue)

    async def _show_state(self, pressed: Message, number: int) -> None:
        """Edit the pressed message: its state line below the text, only the buttons that can
        still do something."""
        if not pressed.text:
            return
        datas = [
            b.callback_data
            for row in (pressed.reply_markup.inline_keyboard if pressed.reply_markup else ())
            for b in row
            if isinstance(b.callback_data, str)
        ]
        state = await self._db(
            button_state, self.engine, self.deps, number=number, datas=datas, platform=PLATFORM
        )
        if state is None:
            return
        line, still = state.line, state.live
        body = pressed.text_html
        marker = "\n\n" + html.escape(texts.TG_STATE.format(status=""))
        if marker in body:
            body = body[: body.rindex(marker)]
        text = body + "\n\n" + html.escape(texts.TG_STATE.format(status=line))
        buttons = [
            b
            for row in (pressed.reply_markup.inline_keyboard if pressed.reply_markup else ())
            for b in row
            if b.callback_data in still
        ]
        try:
            await pressed.edit_text(
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=InlineKeyboardMarkup([buttons]) if buttons else None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                log.warning("could not edit message %s: %s", pressed.message_id, exc)
        except TelegramError as exc:
            log.warning("could not edit message %s: %s", pressed.message_id, exc)

    async def _privacy_notice(self, chat_id: int, status: str | None) -> None:
        """In privacy mode the bot misses ordinary posts: say so once in each known group,
        unless the bot is an admin there (admins see everything)."""
        if chat_id in self._privacy_checked:
            return
        self._privacy_checked.add(chat_id)
        if status is None:
            try:
                status = (await self.bot.get_chat_member(chat_id, self.bot.id)).status
            except TelegramError as exc:
                self._privacy_checked.discard(chat_id)
                log.info("getChatMember in %s: %s", chat_id, exc)
                return
        if status in ADMINS:
            return
        await self._db(
            _queue_privacy_notice,
            self.engine,
            self.deps,
            self.app.clock.now(),
            f"{PLATFORM}:{chat_id}",
        )
        self._waker.wake()

    # ---------------------------------------------------------------- sending

    def _remember(self, user: User) -> None:
        key = f"{PLATFORM}:{user.id}"
        self._names.pop(key, None)
        self._names[key] = user.full_name
        if len(self._names) > 10_000:
            self._names.pop(next(iter(self._names)))

    async def _mention_name(self, key: str, chat_id: int) -> str | None:
        name = self._names.get(key)
        if name is None:  # not seen since the start: ask Telegram
            try:
                member = await self.bot.get_chat_member(chat_id, int(key.partition(":")[2]))
            except (TelegramError, ValueError):
                return None
            self._remember(member.user)
            name = member.user.full_name
        return name

    def _status(self, **fields: Any) -> None:
        """Connection state for the admin's status page (`app.status["telegram"]`: state,
        mode, bot, privacy_mode, error, last_update, at)."""
        self.app.status.setdefault(PLATFORM, {}).update(fields, at=self.app.clock.now())


def voice_of(msg: Incoming) -> Voice | None:
    """The sound of the message's downloaded voice file, named as the endpoint expects
    (Telegram names voice notes .oga: OGG/Opus)."""
    found = voice_file(msg)
    if found is None:
        return None
    path, data = found
    suffix = path.suffix.lower()
    return sound(data, ".ogg" if suffix in (".oga", ".opus", "") else suffix)


def _queue_privacy_notice(engine: Engine, deps: Deps, now: datetime, chat_key: str) -> None:
    with session_scope(engine) as session:
        if deps.directory.group(session, chat_key) is not None:  # groups in the grid only
            to_chat(
                session, chat_key, texts.TG_PRIVACY_MODE, now=now, dedupe_key=f"privacy:{chat_key}"
            )


def _derived_secret(token: str) -> str:
    """A webhook secret when none is configured: stable across restarts and instances."""
    return hashlib.sha256(f"shuoshi-webhook:{token}".encode()).hexdigest()


def build_application(token: str, base_url: str = "") -> AnyApplication:
    """PTB's Application: the bot and its HTTP clients. Updates come through `TelegramDoor`."""
    # PTB 22 reports durations (a 429's retry_after, timeouts) as timedelta only with this set;
    # without it every such value logs a deprecation warning. Operators need not know.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    builder = ApplicationBuilder().token(token).updater(None)
    if base_url:
        base = base_url.rstrip("/")
        builder = builder.base_url(base)
        if base.endswith("/bot"):  # a self-hosted Bot API server serves files beside it
            builder = builder.base_file_url(base[: -len("/bot")] + "/file/bot")
    return builder.build()


# --------------------------------------------------------------------------------------------
# the webhook route (mounted by the root on the admin app)
# --------------------------------------------------------------------------------------------


def mount_webhook(api: FastAPI, door: TelegramDoor) -> None:
    """The webhook route on the admin app: 403 on a wrong secret, 200 once recorded, 5xx when
    recording failed (Telegram then sends the update again)."""

    async def telegram_webhook(request: Request) -> Response:
        # The secret first, then at most MAX_WEBHOOK_BODY bytes: a stranger's 100 MB body is
        # refused before it is read, not after.
        secret = request.headers.get(SECRET_HEADER)
        if not door.secret_ok(secret):
            return Response(status_code=403)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_WEBHOOK_BODY:
            return Response(status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_WEBHOOK_BODY:
                return Response(status_code=413)
        status = await door.receive_webhook(secret, bytes(body))
        return Response(status_code=status)

    api.add_api_route(
        door.webhook_path, telegram_webhook, methods=["POST"], include_in_schema=False
    )
