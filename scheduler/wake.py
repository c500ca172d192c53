"""Throttled waking of the outbox sender, shared by the platform doors.

A door wakes its sender whenever it has queued something. Each wake is a claim on the outbox,
so waking once per queued message would, in a burst, turn into a claim per row. Waking at most
once per interval instead lets one claim take all the rows queued in the meantime, while a
lone message after a quiet spell still goes at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class SenderWaker:
    """Calls `wake` at once, or, when it was called less than `every` seconds ago, once more
    when those seconds are up; wakes asked for until then ride on that one."""

    def __init__(self, wake: Callable[[], None], every: float) -> None:
        self._wake = wake
        self._every = every
        self._last = 0.0
        self._due = False

    def wake(self) -> None:
        """Must be called on the event loop: the deferred wake is scheduled on it."""
        if self._due:
            return
        loop = asyncio.get_running_loop()
        wait = self._last + self._every - loop.time()
        if wait <= 0:
            self._last = loop.time()
            self._wake()
        else:
            self._due = True
            loop.call_later(wait, self._woken)

    def _woken(self) -> None:
        self._due = False
        self.wake()
