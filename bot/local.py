"""The local platform: scenario scripts and a console REPL through the real pipeline.

Script lines (see README):
  # comment | @grid FILE | @at 2026-11-23 09:00 | @wait 2d 3h | @in GROUP | @dm
  NAME: TEXT | NAME re#12: TEXT | NAME [BUTTON]
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

from sqlmodel import Session

from handlers.clock import Clock, FakeClock
from handlers.deps import Deps
from handlers.intake import Handled, receive
from ports.doors import OutboxSender, PlatformLimits
from ports.messages import Incoming
from ports.runtime import Runtime
from storage.door_reads import chat_of_group, latest_sent_about, sent_with_buttons
from storage.grid import parse_duration
from storage.models import Outbox

PLATFORM = "local"
LIMITS = PlatformLimits()  # nobody to flood: the local platform sends without limits
_AT = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2}))?$")
_POST = re.compile(r"^([^\s:：\[]+?)(?:\s+re#(\d+))?\s*[:：]\s?(.*)$")
_PRESS = re.compile(r"^([^\s:：\[]+)\s*\[(.+)\]\s*$")


class ScriptError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"脚本第{line}行：{message}")
        self.line = line


class LocalTransport:
    """The local platform's way out, for scenario scripts, the console and 模拟群聊 alike: a row
    is delivered by being marked sent (the web chat shows the outbox itself), and a script
    that `record`s sees it as a transcript line. The message id is "w" and the row's id.
    Registered by the root (bot.app.build) when the local platform is served."""

    platform = PLATFORM

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.transcript: list[str] | None = None  # only while a script records

    def record(self) -> list[str]:
        """The transcript: every row delivered from now on, as a line."""
        if self.transcript is None:
            self.transcript = []
        return self.transcript

    async def send(self, row: Outbox) -> str:
        if self.transcript is not None:
            self.transcript.append(self._line(row))
        return f"w{row.id}"

    def _line(self, row: Outbox) -> str:
        buttons = json.loads(row.buttons)
        text = " ↵ ".join(row.text.splitlines())
        if row.mention and not row.private:
            text = f"@{row.mention.split(':', 1)[1]} {text}"
        if buttons:
            text += " " + " ".join(f"[{label}]" for label, _ in buttons)
        where = f"{row.recipient} (私聊)" if row.private else row.recipient
        return f"{stamp(self.clock.now())} → {where}: {text}"


def stamp(dt: datetime) -> str:
    return f"{dt:%Y-%m-%d %H:%M}"


# Runs when a script moves the clock, before it moves (scheduler.jobs.make_ticker: the
# scheduled work due on the way, each at its own time).
OnAdvance = Callable[[datetime], Awaitable[None]]


class ScriptRunner:
    """The local platform's door for scenario scripts and the console: script lines in as
    neutral messages, the transcript out. Needs an app whose clock is a FakeClock and whose
    root serves the local platform; it sends through the app's sender (`Runtime.sender`)."""

    platform = PLATFORM
    limits = LIMITS

    def __init__(self, app: Runtime[Deps], *, on_tick: OnAdvance | None = None) -> None:
        clock = app.clock
        assert isinstance(clock, FakeClock)
        transport = app.transports.get(PLATFORM)
        if not isinstance(transport, LocalTransport):
            raise ValueError("the local platform is not served here (bot.app.build(local=True))")
        self.app = app
        self.clock: FakeClock = clock
        self.transport = transport
        self._lines = transport.record()
        self.sender: OutboxSender = app.sender()
        self.on_tick = on_tick
        self.chat: str | None = None  # local chat id of the current group; None in @dm
        self.group_name = ""
        self._ids = itertools.count(1)

    async def start(self, sender: OutboxSender) -> None:
        """Scripts run line by line (`run_lines`); starting only hands over the sender."""
        self.sender = sender

    async def stop(self) -> None:
        return None

    @property
    def lines(self) -> list[str]:
        return self._lines

    async def run_lines(self, lines: Iterable[str], start: int = 1) -> None:
        for number, line in enumerate(lines, start):
            await self.run_line(line, number)

    async def run_line(self, raw: str, number: int) -> None:
        line = raw.strip()
        if not line or line.startswith("#"):
            return
        if line.startswith("@"):
            await self._directive(line, number)
            return
        m = _PRESS.match(line)
        if m:
            await self._press(m.group(1), m.group(2), number)
            return
        m = _POST.match(line)
        if not m:
            raise ScriptError(number, f"看不懂“{line[:30]}”，应写成 姓名: 内容")
        name, ref, text = m.group(1), m.group(2), m.group(3)
        await self._post(name, text, int(ref) if ref else None, number)

    async def _directive(self, line: str, number: int) -> None:
        word, _, arg = line.partition(" ")
        arg = arg.strip()
        if word == "@grid":
            return  # applied before the run (the grid is part of building the app)
        if word == "@at":
            m = _AT.match(arg)
            if not m:
                raise ScriptError(number, "时间应写成 @at 2026-11-23 09:00")
            y, mo, d, h, mi = (int(g) if g else 0 for g in m.groups())
            try:
                when = datetime(y, mo, d, h, mi, tzinfo=self.clock.tz)
            except ValueError as exc:
                raise ScriptError(number, f"日期不对：{arg}") from exc
            if when < self.clock.now():
                raise ScriptError(number, "时间不能往回拨")
            await self.advance_to(when)
            return
        if word == "@wait":
            delta = parse_duration(arg)
            if delta is None:
                raise ScriptError(number, "等待应写成 @wait 2d 3h 30m")
            await self.advance_to(self.clock.now() + delta)
            return
        if word == "@in":
            if not arg:
                raise ScriptError(number, "请写群名：@in 新联村说事群")
            self.chat = self._local_chat(arg)
            self.group_name = arg
            return
        if word == "@dm":
            self.chat = None
            return
        raise ScriptError(number, f"没有“{word}”这个指令（可用 @grid @at @wait @in @dm）")

    async def advance_to(self, when: datetime) -> None:
        """Move the clock; scheduled work due on the way runs in order, each at its own time."""
        if self.on_tick is not None:
            await self.on_tick(when)
        if when > self.clock.now():
            self.clock.set(when)
        await self.sender.flush()

    def _local_chat(self, group: str) -> str:
        with Session(self.app.engine) as session:
            chat = chat_of_group(session=session, platform=PLATFORM, group=group)
        return group if chat is None else chat  # not in the grid: answered as an unknown group

    def _message(self, name: str, text: str, **kw: object) -> Incoming:
        private = self.chat is None
        return Incoming(
            platform=PLATFORM,
            chat=name if private else (self.chat or ""),
            sender=name,
            sender_name=name,
            text=text,
            message_id=f"m{next(self._ids)}",
            at=self.clock.now(),
            private=private,
            **kw,  # type: ignore[arg-type]
        )

    async def _post(self, name: str, text: str, ref: int | None, number: int) -> None:
        reply_to = None
        if ref is not None:
            reply_to = self._latest_about(ref, name)
            if reply_to is None:
                raise ScriptError(number, f"这里没有关于 #{ref} 的机器人消息可回复")
        where = f"{name} (私聊)" if self.chat is None else f"{self.group_name} {name}"
        self.lines.append(f"{stamp(self.clock.now())} ← {where}: {text}")
        self.deliver(self._message(name, text, reply_to=reply_to))
        await self.sender.flush()

    def deliver(self, msg: Incoming) -> Handled:
        return receive(self.app.engine, self.app.deps, msg)

    def _latest_about(self, number: int, name: str) -> str | None:
        chat = self.chat if self.chat is not None else name
        with Session(self.app.engine) as session:
            return latest_sent_about(session=session, platform=PLATFORM, chat=chat, number=number)

    async def _press(self, name: str, label: str, number: int) -> None:
        with Session(self.app.engine) as session:
            rows = sent_with_buttons(session=session, platform=PLATFORM)
        for row in rows:
            addressed = (row.private and row.chat == name) or row.mention == f"{PLATFORM}:{name}"
            data = dict((lbl, d) for lbl, d in json.loads(row.buttons)).get(label)
            if addressed and data:
                break
        else:
            raise ScriptError(number, f"没有发给{name}、带[{label}]按钮的消息")
        self.lines.append(f"{stamp(self.clock.now())} ← {name} 按 [{label}]")
        msg = Incoming(
            platform=PLATFORM,
            chat=row.chat,
            sender=name,
            sender_name=name,
            text="",
            message_id=f"cb{next(self._ids)}",
            at=self.clock.now(),
            private=row.private,
            reply_to=row.platform_message_id,
            button=data,
        )
        handled = self.deliver(msg)
        if handled.answer and handled.alert:
            self.lines.append(f"{stamp(self.clock.now())} → {name} (提示): {handled.answer}")
        await self.sender.flush()


def grid_line(lines: list[str]) -> str | None:
    """The file named by an @grid line, if the script has one."""
    for raw in lines:
        line = raw.strip()
        if line.startswith("@grid"):
            return line.partition(" ")[2].strip() or None
    return None


def first_time(lines: list[str]) -> datetime | None:
    for raw in lines:
        m = (
            _AT.match(raw.strip().removeprefix("@at").strip())
            if raw.strip().startswith("@at")
            else None
        )
        if m:
            y, mo, d, h, mi = (int(g) if g else 0 for g in m.groups())
            try:
                return datetime(y, mo, d, h, mi)
            except ValueError:
                return None
    return None


__all__ = ["LocalTransport", "ScriptError", "ScriptRunner", "first_time", "grid_line", "timedelta"]
