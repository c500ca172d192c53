"""One injectable clock, so tests and scenario scripts can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    tz: ZoneInfo

    def now(self) -> datetime: ...


class SystemClock:
    def __init__(self, tz: str = "Asia/Shanghai") -> None:
        self.tz = ZoneInfo(tz)

    def now(self) -> datetime:
        return datetime.now(UTC).astimezone(self.tz)


class FakeClock:
    """A clock that moves only when told (never backwards)."""

    def __init__(self, start: datetime, tz: str = "Asia/Shanghai") -> None:
        self.tz = ZoneInfo(tz)
        self._now = start if start.tzinfo else start.replace(tzinfo=self.tz)

    def now(self) -> datetime:
        return self._now.astimezone(self.tz)

    def set(self, when: datetime) -> None:
        when = when if when.tzinfo else when.replace(tzinfo=self.tz)
        if when < self._now:
            raise ValueError("clock cannot go backwards")
        self._now = when

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)
