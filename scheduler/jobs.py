"""Scheduled work (reminders, escalation, digests) driven by the clock.

`make_ticker` gives scenario scripts a way to move time: every job due on the way runs at its
own simulated time, and what it queues is delivered then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

Tick = Callable[[datetime], Awaitable[None]]


def make_ticker(app: Any) -> Tick:
    async def tick(when: datetime) -> None:
        # No periodic jobs yet: the clock simply moves and pending messages go out.
        return None

    return tick
