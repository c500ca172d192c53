"""The rate limiter on a hand-stepped clock: at most N in any window, per platform and chat."""

from __future__ import annotations

from typing import Any

import pytest

from bot import telegram, wechat
from ports.settings import Settings
from scheduler.ratelimit import Limit, PlatformLimits, RateLimiter, Window
from scheduler.sender import rate_limits


def declared(**settings: Any) -> dict[str, PlatformLimits]:
    """Telegram's and WeChat's limits as their doors declare them from these settings, as the
    sender keeps them (with the settings' margin)."""
    s = Settings(**settings)
    doors = {"telegram": telegram.send_limits(s), "wechat": wechat.send_limits(s)}
    return rate_limits(doors, s.outbox_rate_margin_seconds)


TELEGRAM = declared(outbox_rate_margin_seconds=0)  # the limits to the letter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def max_in_window(times: list[float], per: float) -> int:
    """The most events in any half-open window [t, t + per)."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - per:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def drive(limiter: RateLimiter, clock: Clock, sends: list[tuple[str, str, bool]]) -> list[float]:
    """Send each (platform, chat, group) as soon as the limiter allows, in order; the times."""
    times = []
    for platform, chat, group in sends:
        while (wait := limiter.try_acquire(platform, chat, group=group)) > 0:
            clock.now += wait
        times.append(clock.now)
    return times


def test_window_allows_count_then_waits_for_the_oldest() -> None:
    w = Window(Limit(3, 10.0))
    for t in (0.0, 1.0, 2.0):
        assert w.wait(t) == 0.0
        w.hit(t)
    assert w.wait(2.0) == pytest.approx(8.0)  # the first one leaves the window at 10
    assert w.wait(9.999) == pytest.approx(0.001)
    assert w.wait(10.0) == 0.0


def test_a_limit_needs_a_count_and_a_period() -> None:
    with pytest.raises(ValueError):
        Limit(0, 1.0)
    with pytest.raises(ValueError):
        Limit(1, 0.0)


def test_one_private_chat_gets_one_message_a_second() -> None:
    clock = Clock()
    limiter = RateLimiter(TELEGRAM, clock=clock)
    times = drive(limiter, clock, [("telegram", "7", False)] * 5)
    assert [t - times[0] for t in times] == pytest.approx([0, 1, 2, 3, 4])


def test_a_group_gets_twenty_a_minute_never_more_in_any_minute() -> None:
    clock = Clock()
    limiter = RateLimiter(TELEGRAM, clock=clock)
    times = drive(limiter, clock, [("telegram", "-100", True)] * 45)
    assert max_in_window(times, 60.0) == 20
    assert max_in_window(times, 1.0) == 1
    # Twenty at one a second, then the 21st exactly when the first leaves the minute.
    assert times[20] - times[0] == pytest.approx(60.0)
    assert times[40] - times[0] == pytest.approx(120.0)


def test_the_whole_bot_gets_thirty_a_second_across_chats() -> None:
    clock = Clock()
    limiter = RateLimiter(TELEGRAM, clock=clock)
    sends = [("telegram", str(chat), False) for _ in range(3) for chat in range(100)]
    times = drive(limiter, clock, sends)
    assert max_in_window(times, 1.0) == 30
    assert times[-1] - times[0] == pytest.approx(9.0)  # 300 messages at 30/s: 10 windows
    per_chat: dict[str, list[float]] = {}
    for (_, chat, _), t in zip(sends, times, strict=True):
        per_chat.setdefault(chat, []).append(t)
    assert all(max_in_window(ts, 1.0) == 1 for ts in per_chat.values())


def test_wait_time_takes_nothing_and_try_acquire_takes_only_when_free() -> None:
    clock = Clock()
    limiter = RateLimiter(TELEGRAM, clock=clock)
    assert limiter.wait_time("telegram", "1", group=False) == 0.0
    assert limiter.wait_time("telegram", "1", group=False) == 0.0
    assert limiter.try_acquire("telegram", "1", group=False) == 0.0
    assert limiter.try_acquire("telegram", "1", group=False) == pytest.approx(1.0)
    clock.now += 0.4
    assert limiter.wait_time("telegram", "1", group=False) == pytest.approx(0.6)
    # A refused try leaves no trace: the other chat is not slowed by it.
    assert limiter.try_acquire("telegram", "2", group=False) == 0.0


def test_platforms_are_counted_apart_and_unknown_ones_are_free() -> None:
    clock = Clock()
    limiter = RateLimiter(TELEGRAM, clock=clock)
    assert limiter.try_acquire("telegram", "room", group=True) == 0.0
    assert limiter.try_acquire("wechat", "room", group=True) == 0.0  # its own windows
    assert limiter.try_acquire("wechat", "room", group=True) == pytest.approx(1.0)
    for _ in range(1000):
        assert limiter.try_acquire("local", "any", group=True) == 0.0


def test_wechat_limits_follow_the_settings() -> None:
    clock = Clock()
    limits = declared(
        wechat_chat_max_per_second=2, wechat_room_max_per_minute=5, outbox_rate_margin_seconds=0
    )
    limiter = RateLimiter(limits, clock=clock)
    times = drive(limiter, clock, [("wechat", "r@chatroom", True)] * 12)
    assert max_in_window(times, 1.0) == 2
    assert max_in_window(times, 60.0) == 5


def test_a_zero_switches_a_limit_off() -> None:
    limits = declared(telegram_max_per_second=0)["telegram"]
    assert limits.overall == ()
    assert len(limits.chat) == 1


def test_the_margin_widens_every_window_against_jitter() -> None:
    limits = declared(outbox_rate_margin_seconds=0.05)["telegram"]
    assert limits.overall == (Limit(30, 1.05),)
    assert limits.chat == (Limit(1, 1.05),)
    assert limits.group == (Limit(20, 60.05),)
    clock = Clock()
    limiter = RateLimiter({"telegram": limits}, clock=clock)
    times = drive(limiter, clock, [("telegram", "9", False)] * 3)
    assert [t - times[0] for t in times] == pytest.approx([0, 1.05, 2.1])


def test_idle_chats_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(
        {"p": PlatformLimits(chat=(Limit(1, 1.0),), group=(Limit(20, 60.0),))},
        clock=clock,
        prune_every=10,
    )
    for chat in range(10):
        limiter.try_acquire("p", str(chat), group=True)
    clock.now += 61
    for chat in range(10, 20):
        limiter.try_acquire("p", str(chat), group=False)
    # The sweep after the 20th acquisition dropped the ten idle group chats.
    assert len(limiter._chats) == 10
    assert limiter.try_acquire("p", "3", group=True) == 0.0
