"""SenderWaker: one wake at once, then at most one per interval during a burst."""

from __future__ import annotations

import asyncio

import pytest

from scheduler.wake import SenderWaker

pytestmark = pytest.mark.asyncio

EVERY = 0.1  # long enough that a synchronous burst surely falls inside one interval


async def test_burst_is_throttled_to_one_wake_per_interval() -> None:
    loop = asyncio.get_running_loop()
    wakes: list[float] = []
    waker = SenderWaker(lambda: wakes.append(loop.time()), EVERY)

    waker.wake()
    assert len(wakes) == 1  # the first wake is not delayed

    for _ in range(20):
        waker.wake()
    assert len(wakes) == 1  # the burst waits for the interval

    await asyncio.sleep(EVERY * 1.5)
    assert len(wakes) == 2  # the whole burst became one wake
    # asyncio may run a timer up to its clock resolution early
    assert wakes[1] - wakes[0] >= EVERY - 0.01

    await asyncio.sleep(EVERY * 1.5)
    assert len(wakes) == 2  # and nothing more followed it

    waker.wake()
    assert len(wakes) == 3  # quiet for an interval: immediate again
