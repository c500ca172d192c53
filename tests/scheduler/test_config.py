"""The `[scheduler]` table of the grid file and the quiet hours (no database)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ports.settings import DEMO_GRID
from scheduler.config import SchedulerConfig, scheduler_config
from scheduler.periodic import due_jobs, next_moment
from storage.grid import GridError, parse_grid

TZ = ZoneInfo("Asia/Shanghai")
DEMO = DEMO_GRID.read_text(encoding="utf-8")


def config(table: str, **kw: bool) -> SchedulerConfig:
    return scheduler_config(parse_grid(DEMO + "\n[scheduler]\n" + table), **kw)


def test_defaults_and_overrides() -> None:
    cfg = scheduler_config(parse_grid(DEMO))
    assert (cfg.unclaimed_after, cfg.reminder_at, cfg.escalate_at) == (timedelta(hours=4), 0.75, 1)
    assert (cfg.todo_at, cfg.digest_weekday, cfg.digest_at) == (time(8), 0, time(8))
    assert cfg.quiet_hours == (time(21), time(7, 30))
    cfg = config(
        'unclaimed_after = "2h"\nreminder_at = "80%"\nescalate_at = 2\n'
        'daily_todo = "07:45"\ndigest = "周五 17:00"\ndigest_chart = false'
    )
    assert (cfg.unclaimed_after, cfg.reminder_at, cfg.escalate_at) == (timedelta(hours=2), 0.8, 2)
    assert (cfg.todo_at, cfg.digest_weekday, cfg.digest_at) == (time(7, 45), 4, time(17))
    assert not cfg.digest_chart
    off = config("unclaimed_after = false\nreminder_at = false\ndaily_todo = false\ndigest = false")
    assert (off.unclaimed_after, off.reminder_at, off.todo_at, off.digest_at) == (None,) * 4
    # The setting (environment) switches the to-do off whatever the file says.
    assert config('daily_todo = "08:00"', daily_todo=False).todo_at is None


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('unclaimed_after = "soon"', "scheduler.unclaimed_after"),
        ('reminder_at = "150%"', "scheduler.reminder_at"),
        ('daily_todo = "25:00"', "scheduler.daily_todo"),
        ('digest = "someday 08:00"', "scheduler.digest"),
        ('remind_every = "1h"', "scheduler.remind_every"),
    ],
)
def test_mistakes_name_their_key(table: str, key: str) -> None:
    with pytest.raises(GridError) as err:
        config(table)
    assert err.value.key == key


def test_quiet_hours_across_midnight() -> None:
    cfg = SchedulerConfig()
    assert cfg.in_quiet(datetime(2026, 11, 23, 21, 0, tzinfo=TZ))
    assert cfg.in_quiet(datetime(2026, 11, 24, 3, 0, tzinfo=TZ))
    assert not cfg.in_quiet(datetime(2026, 11, 24, 7, 30, tzinfo=TZ))
    assert not cfg.in_quiet(datetime(2026, 11, 23, 20, 59, tzinfo=TZ))
    end = datetime(2026, 11, 24, 7, 30, tzinfo=TZ)
    assert cfg.quiet_end(datetime(2026, 11, 23, 23, 0, tzinfo=TZ)) == end
    assert cfg.quiet_end(datetime(2026, 11, 24, 1, 0, tzinfo=TZ)) == end
    day = SchedulerConfig(quiet_hours=(time(12), time(14)))
    assert day.in_quiet(datetime(2026, 11, 24, 13, 0, tzinfo=TZ))
    assert not day.in_quiet(datetime(2026, 11, 24, 14, 0, tzinfo=TZ))


def test_periodic_moments() -> None:
    cfg = SchedulerConfig()
    monday = datetime(2026, 11, 30, 8, 0, tzinfo=TZ)
    started = monday - timedelta(days=30)
    assert [(j.job, j.period) for j in due_jobs(monday, cfg, started)] == [
        ("todo", "2026-11-30"),
        ("digest", "2026-W48"),  # the week before
    ]
    # Nothing from before the scheduler's first sweep on this database.
    assert due_jobs(monday, cfg, monday + timedelta(minutes=1)) == []
    # A to-do missed by more than 12 hours is dropped; a digest is sent any time in its week.
    late = monday + timedelta(hours=13)
    assert [j.job for j in due_jobs(late, cfg, started)] == ["digest"]
    assert next_moment(monday, cfg) == monday + timedelta(days=1)
