"""The list's 剩余 column (admin.pages.time_left)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from admin.pages import time_left


def test_time_left_does_not_round_away_most_of_a_day() -> None:
    """剩余 in the list: whole days from two on; between one and two days the hours too (47
    hours is not "1天"); under an hour it says so."""
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    due = [timedelta(days=5, hours=3), timedelta(hours=47), timedelta(hours=24), timedelta(hours=5)]
    assert [time_left(now + d, "open", now) for d in due] == [
        "剩余 5天",
        "剩余 1天23小时",
        "剩余 1天",
        "剩余 5小时",
    ]
    assert time_left(now + timedelta(minutes=20), "claimed", now) == "剩余 不到1小时"
    assert time_left(now - timedelta(days=3, hours=1), "open", now) == "超期 3天"
    assert time_left(now + timedelta(days=1), "closed", now) == ""
