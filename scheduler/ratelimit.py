"""Platform rate limits for the outbox sender, keyed by platform and chat.

Each limit is "at most `count` messages in any `per` seconds", kept as a sliding window: the
send times of the last `count` messages, and the next may go once the oldest of them is `per`
seconds old. A token bucket of `count` tokens would be the usual choice, but a full bucket
followed by its refill lets almost twice `count` through within one window, and that is exactly
what a platform answers with 429. The window costs `count` floats per key; keys idle for longer
than their period are dropped, so memory follows the chats active in the last minute.

The limiter never sleeps by itself: `wait_time` says how long until a message may go,
`try_acquire` takes the slot when it is free. Time comes from an injected monotonic clock, so
tests step it by hand.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ports.doors import Limit, PlatformLimits


class Window:
    """At most `limit.count` events in any `limit.per` seconds."""

    __slots__ = ("limit", "times")

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.times: deque[float] = deque(maxlen=limit.count)

    def wait(self, now: float) -> float:
        if len(self.times) < self.limit.count:
            return 0.0
        return max(0.0, self.times[0] + self.limit.per - now)

    def hit(self, now: float) -> None:
        self.times.append(now)  # maxlen drops the oldest

    def idle(self, now: float) -> bool:
        return not self.times or self.times[-1] + self.limit.per <= now


ChatKey = tuple[str, str]  # (platform, chat)


@dataclass
class RateLimiter:
    limits: Mapping[str, PlatformLimits]
    clock: Callable[[], float] = time.monotonic
    prune_every: int = 1000  # acquisitions between sweeps of idle chats
    _overall: dict[str, list[Window]] = field(default_factory=dict, init=False)
    _chats: dict[ChatKey, list[Window]] = field(default_factory=dict, init=False)
    _since_prune: int = field(default=0, init=False)

    def wait_time(self, platform: str, chat: str, *, group: bool) -> float:
        """Seconds until a message to this chat may go (0.0: now). Takes nothing."""
        now = self.clock()
        return max((w.wait(now) for w in self._windows(platform, chat, group)), default=0.0)

    def try_acquire(self, platform: str, chat: str, *, group: bool) -> float:
        """Take the slot for one message if every limit allows it now (returns 0.0), else
        take nothing and return the seconds to wait."""
        now = self.clock()
        windows = self._windows(platform, chat, group)
        wait = max((w.wait(now) for w in windows), default=0.0)
        if wait > 0:
            return wait
        for w in windows:
            w.hit(now)
        self._since_prune += 1
        if self._since_prune >= self.prune_every:
            self.prune()
        return 0.0

    def prune(self) -> None:
        """Forget chats with nothing left in any window."""
        now = self.clock()
        self._since_prune = 0
        for key in [k for k, ws in self._chats.items() if all(w.idle(now) for w in ws)]:
            del self._chats[key]

    def _windows(self, platform: str, chat: str, group: bool) -> list[Window]:
        limits = self.limits.get(platform)
        if limits is None:  # a platform without limits (local, a test fake)
            return []
        overall = self._overall.get(platform)
        if overall is None:
            overall = self._overall[platform] = [Window(x) for x in limits.overall]
        mine = self._chats.get((platform, chat))
        if mine is None:
            chosen = limits.chat + (limits.group if group else ())
            mine = self._chats[(platform, chat)] = [Window(x) for x in chosen]
        return [*overall, *mine]
