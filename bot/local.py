"""The local platform: scenario scripts and a console REPL through the real pipeline.

Script lines (see README):
  # comment | @grid FILE | @at 2026-11-23 09:00 | @wait 2d 3h | @in GROUP | @dm
  NAME: TEXT | NAME re#12: TEXT | NAME [BUTTON]
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from handlers.clock import FakeClock
from handlers.intake import Handled, receive
from ports.messages import Incoming
from storage.grid import parse_duration
from storage.models import GroupChat, Issue, Outbox

_AT = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2}))?$")
_POST = re.compile(r"^([^\s:：\[]+?)(?:\s+re#(\d+))?\s*[:：]\s?(.*)$")
_PRESS = re.compile(r"^([^\s:：\[]+)\s*\[(.+)\]\s*$")


class ScriptError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"脚本第{line}行：{message}")
        self.line = line


@dataclass
class LocalTransport:
    """Delivers to the transcript; message ids are b1, b2, …"""

    clock: FakeClock
    platform: str = "local"
    lines: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def send(self, row: Outbox) -> str:
        buttons = json.loads(row.buttons)
        text = " ↵ ".join(row.text.splitlines())
        if row.mention and not row.private:
            text = f"@{row.mention.split(':', 1)[1]} {text}"
        if buttons:
            text += " " + " ".join(f"[{label}]" for label, _ in buttons)
        where = f"{row.recipient} (私聊)" if row.private else row.recipient
        self.lines.append(f"{stamp(self.clock.now())} → {where}: {text}")
        return f"b{next(self._ids)}"


def stamp(dt: datetime) -> str:
    return f"{dt:%Y-%m-%d %H:%M}"


Tick = Callable[[datetime], Awaitable[None]]


class ScriptRunner:
    """Runs script lines against an App whose clock is a FakeClock."""

    def __init__(self, app: object, *, on_tick: Tick | None = None) -> None:
        from bot.app import App

        assert isinstance(app, App) and isinstance(app.clock, FakeClock)
        self.app = app
        self.clock: FakeClock = app.clock
        self.transport = LocalTransport(self.clock)
        app.transports["local"] = self.transport
        self.sender = app.sender()
        self.on_tick = on_tick
        self.chat: str | None = None  # local chat id of the current group; None in @dm
        self.group_name = ""
        self._ids = itertools.count(1)

    @property
    def lines(self) -> list[str]:
        return self.transport.lines

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
            keys = session.exec(
                select(GroupChat.chat_key).where(col(GroupChat.chat_key).like("local:%"))
            ).all()
        from storage.models import ChatGroup

        with Session(self.app.engine) as session:
            for key in keys:
                gc = session.exec(select(GroupChat).where(GroupChat.chat_key == key)).one()
                g = session.get(ChatGroup, gc.group_id)
                if g is not None and g.name == group:
                    return key.split(":", 1)[1]
        return group  # not in the grid: the bot answers as to an unknown group

    def _message(self, name: str, text: str, **kw: object) -> Incoming:
        private = self.chat is None
        return Incoming(
            platform="local",
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
            row = session.exec(
                select(Outbox)
                .join(Issue, col(Issue.id) == col(Outbox.issue_id))
                .where(
                    Issue.number == number,
                    Outbox.platform == "local",
                    Outbox.chat == chat,
                    Outbox.status == "sent",
                )
                .order_by(col(Outbox.id).desc())
            ).first()
            return row.platform_message_id if row else None

    async def _press(self, name: str, label: str, number: int) -> None:
        with Session(self.app.engine) as session:
            rows = session.exec(
                select(Outbox)
                .where(Outbox.platform == "local", Outbox.status == "sent", Outbox.buttons != "[]")
                .order_by(col(Outbox.id).desc())
            ).all()
        for row in rows:
            addressed = (row.private and row.chat == name) or row.mention == f"local:{name}"
            data = dict((lbl, d) for lbl, d in json.loads(row.buttons)).get(label)
            if addressed and data:
                break
        else:
            raise ScriptError(number, f"没有发给{name}、带[{label}]按钮的消息")
        self.lines.append(f"{stamp(self.clock.now())} ← {name} 按 [{label}]")
        msg = Incoming(
            platform="local",
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


def run_script(app: object, lines: list[str], on_tick: Tick | None = None) -> list[str]:
    runner = ScriptRunner(app, on_tick=on_tick)
    asyncio.run(runner.run_lines(lines))
    return runner.lines


__all__ = ["LocalTransport", "ScriptError", "ScriptRunner", "first_time", "grid_line", "timedelta"]
