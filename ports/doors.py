"""The door contract: the shape every platform fills in (as errbot's `Backend` or FixMyStreet's
`SendReport`), so a new platform is a new module under bot/ and one line in the root.

- A `Door` brings one platform's messages in: it translates each update into the neutral
  `ports.messages.Incoming`, hands it to intake, and renders what the handlers decided. It
  declares its platform's send `limits` and the `transport` that takes outbox rows out.
- A `Transport` delivers one outbox row and says what a failure means (`TransientError`: try
  again later; `PermanentError`: never); a `MergingTransport` can send several rows of one chat
  as one message.
- The root (bot/app.py) builds each door once, then the door's outbox sender from the door's
  transport and limits, and opens the door with it (`opened`).

Nothing here decides anything or imports a layer above storage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from storage.models import Outbox

T = TypeVar("T")

# --- out: transports and what their failures mean ---------------------------------------------


class TransientError(Exception):
    """The platform asked us to try later (HTTP 429/5xx, a timeout). With `retry_after`, the
    platform said when (Telegram's 429): that is exactly how long the chat waits."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """The platform will never take this message (chat not found, bot blocked or removed from
    the group, message malformed): the row fails at once, without more tries."""


class Transport(Protocol):
    """One platform's way out. `send` returns the platform's message id. It raises
    PermanentError for what no retry can fix, TransientError (with retry_after when the
    platform gives one) for what may pass; any other exception counts as transient too."""

    platform: str

    async def send(self, row: Outbox) -> str:
        """Deliver one message; return the platform's message id."""
        ...


class MergingTransport(Transport, Protocol):
    """A transport that can deliver several rows of one chat as one message. The sender uses
    it where the platform's rate limits are tight (WeChat: 20 messages a minute in a room, and
    accounts that flood get banned): rows already queued for a chat when its turn comes go
    out together, up to the platform's `PlatformLimits.merge_max`, and the limits count one
    message."""

    def can_merge(self, rows: Sequence[Outbox]) -> bool:
        """Whether these rows (of one chat, in order) may go out as one message."""
        ...

    async def send_merged(self, rows: Sequence[Outbox]) -> str:
        """Deliver the rows as one message; return the platform's message id."""
        ...


# --- each platform's send limits, declared by its door ----------------------------------------


@dataclass(frozen=True)
class Limit:
    count: int  # at most this many messages …
    per: float  # … in any window of this many seconds

    def __post_init__(self) -> None:
        if self.count < 1 or self.per <= 0:
            raise ValueError(f"a limit needs count ≥ 1 and per > 0, not {self}")


@dataclass(frozen=True)
class PlatformLimits:
    """What a platform allows a bot to send, as its door declares it (the sender keeps to it,
    scheduler/ratelimit.py). No limits at all: `PlatformLimits()`."""

    overall: tuple[Limit, ...] = ()  # the whole bot on this platform
    chat: tuple[Limit, ...] = ()  # each chat, private or group
    group: tuple[Limit, ...] = ()  # each group chat, on top of `chat`
    # Rows of one chat that may go out as one message (a MergingTransport's); 1: never merged.
    merge_max: int = 1


def at_most(count: int, per: float) -> tuple[Limit, ...]:
    """At most `count` messages in any `per` seconds; a count of 0 switches the limit off."""
    return (Limit(count, per),) if count > 0 else ()


# --- in: doors ---------------------------------------------------------------------------------


class OutboxSender(Protocol):
    """What a door (or a script) asks of the outbox sender the root built for it
    (scheduler.sender.Sender)."""

    def wake(self) -> None:
        """New rows were queued: look now rather than at the next poll."""
        ...

    async def flush(self) -> int:
        """Send everything due now; the number sent."""
        ...

    async def run_forever(self) -> None:
        """Deliver until cancelled."""
        ...


class Door(Protocol):
    """One platform's way in. Built once by the root; `start` connects and serves in the
    background (the door runs `sender`, the root's outbox sender for its transport, whenever
    the platform can take messages), `stop` ends it. Open one with `opened`."""

    platform: str
    limits: PlatformLimits
    transport: Transport

    async def start(self, sender: OutboxSender) -> None: ...

    async def stop(self) -> None: ...


D = TypeVar("D", bound=Door)


@asynccontextmanager
async def opened(door: D, sender: OutboxSender) -> AsyncIterator[D]:
    """The door serving, with its sender, while the context is open."""
    await door.start(sender)
    try:
        yield door
    finally:
        await door.stop()


class DatabaseWork:
    """How every door runs its database work (recording and deciding a message, a lookup):
    on the event loop, between the door's awaits, as the outbox sender does. Against a worker
    thread (bench/telegram.py, bench/wechat.py --db-in-thread, 2026-12): on SQLite a thread's
    writes meet the sender's in SQLite's busy handler; on PostgreSQL the thread and the loop
    take turns for the GIL after every statement: Telegram 149 against 125 updates/s, WeChat
    178 against 186 messages/s with a third more CPU per message. `in_thread` is for the
    benchmarks."""

    def __init__(self, *, in_thread: bool = False) -> None:
        self.in_thread = in_thread

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.in_thread:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)
