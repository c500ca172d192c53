"""The built runtime as everyone else sees it: what the root (bot/app.py `build`) hands to the
admin, the scheduler and the doors, typed without importing the root.

`Runtime` is generic in the decisions' dependencies (handlers.deps.Deps, a layer above this
one): write `Runtime[Deps]` where they are passed on to handlers, `Runtime[object]` where they
are not used.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import datetime
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from ports.asr import SpeechToText
from ports.doors import OutboxSender, Transport
from ports.settings import Settings
from storage.grid import Grid

DepsT = TypeVar("DepsT", covariant=True)


class Clock(Protocol):
    """The one injectable clock (handlers.clock: SystemClock, FakeClock)."""

    tz: ZoneInfo

    def now(self) -> datetime: ...


class Runtime(Protocol[DepsT]):
    """Settings, database, grid, clock and decisions' dependencies, built once; `status` is
    what the admin's 状态 page shows, kept up to date by whoever knows it (a door, the jobs);
    `transports` are the platforms the root registered for `sender()` (the local platform's,
    when it is served: each door runs a sender of its own)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def grid(self) -> Grid: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def deps(self) -> DepsT: ...

    @property
    def status(self) -> MutableMapping[str, dict[str, Any]]: ...

    @property
    def transports(self) -> MutableMapping[str, Transport]: ...

    @property
    def asr(self) -> SpeechToText | None:
        """Speech to text for voice (ports.asr); None when it is off."""
        ...

    def sender(self) -> OutboxSender:
        """An outbox sender for `transports` (scripts and the web chat flush it)."""
        ...
