"""The scheduler's defaults and the `[scheduler]` table of the grid file that changes them.

```toml
[scheduler]
unclaimed_after = "4h"   # not claimed within this → reminder to the owner; false: off
reminder_at = "75%"      # share of the time limit passed → reminder to the owner; false: off
escalate_at = "100%"     # overdue time as a share of the limit → the town (督办 to 镇领导)
daily_todo = "08:00"     # each person's open issues; false: off (also Settings.daily_todo)
digest = "周一 08:00"    # weekly digest to 书记 and 镇领导; false: off
digest_chart = true      # a PNG chart with the digest where the platform can send images
```
Quiet hours come from the grid's own `quiet_hours`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from storage.grid import Grid, GridError, parse_duration

WEEKDAYS = {
    **{name: i for i, name in enumerate(("周一", "周二", "周三", "周四", "周五", "周六", "周日"))},
    **{name: i for i, name in enumerate(("星期一", "星期二", "星期三", "星期四", "星期五"))},
    "星期六": 5,
    "星期日": 6,
    "星期天": 6,
    "周天": 6,
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{
        name: i
        for i, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_SHARE = re.compile(r"^(\d+(?:\.\d+)?)\s*%$")


@dataclass(frozen=True)
class SchedulerConfig:
    quiet_hours: tuple[time, time] = (time(21, 0), time(7, 30))
    unclaimed_after: timedelta | None = timedelta(hours=4)
    reminder_at: float | None = 0.75
    escalate_at: float | None = 1.0
    todo_at: time | None = time(8, 0)
    digest_weekday: int = 0  # Monday
    digest_at: time | None = time(8, 0)
    digest_chart: bool = True
    # Catch-up after downtime: a to-do older than this is dropped (the next one comes at 08:00);
    # a digest is sent any time in its week.
    todo_grace: timedelta = timedelta(hours=12)
    # Issues claimed per transaction; a person's messages of one transaction are merged, so
    # this is large (a backlog beyond it goes out in a few messages, or at the next sweep).
    batch: int = 20_000

    def in_quiet(self, when: datetime) -> bool:
        start, end = self.quiet_hours
        t = when.timetz().replace(tzinfo=None)
        if start == end:
            return False
        if start < end:
            return start <= t < end
        return t >= start or t < end  # across midnight (21:00-07:30)

    def quiet_end(self, when: datetime) -> datetime:
        """The end of the quiet hours `when` is in (or `when` itself outside them)."""
        if not self.in_quiet(when):
            return when
        end = self.quiet_hours[1]
        candidate = when.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        return candidate if candidate > when else candidate + timedelta(days=1)


def _fail(key: str, message: str) -> GridError:
    return GridError(f"scheduler.{key}", message)


def _clock(value: Any, key: str) -> time | None:
    if value is False:
        return None
    m = _CLOCK.match(str(value).strip())
    try:
        if m:
            return time(int(m.group(1)), int(m.group(2)))
    except ValueError:
        pass
    raise _fail(key, f"时间 '{value}' 应写成 08:00，或写 false 关闭")


def _share(value: Any, key: str, *, upper: float) -> float | None:
    if value is False:
        return None
    if isinstance(value, bool):
        raise _fail(key, "应写成 75% 这样的比例，或写 false 关闭")
    if isinstance(value, int | float):
        share = float(value)  # a plain number is a share: 0.75, 1, 2
    else:
        m = _SHARE.match(str(value).strip())
        if not m:
            raise _fail(key, f"比例 '{value}' 应写成 75% 这样，或写 false 关闭")
        share = float(m.group(1)) / 100
    if not 0 < share <= upper:
        raise _fail(key, f"比例 '{value}' 超出范围")
    return share


def scheduler_config(grid: Grid, *, daily_todo: bool = True) -> SchedulerConfig:
    """The grid file's `[scheduler]` table over the defaults; `daily_todo` is the setting
    (environment), which can switch the to-do off whatever the file says."""
    raw = grid.extra.get("scheduler") or {}
    if not isinstance(raw, dict):
        raise GridError("scheduler", "应为表 [scheduler]")
    known = {
        "unclaimed_after",
        "reminder_at",
        "escalate_at",
        "daily_todo",
        "digest",
        "digest_chart",
    }
    for key in raw:
        if key not in known:
            raise _fail(key, f"未知设置，可用：{'、'.join(sorted(known))}")
    defaults = SchedulerConfig()
    unclaimed: timedelta | None = defaults.unclaimed_after
    if "unclaimed_after" in raw:
        value = raw["unclaimed_after"]
        unclaimed = None if value is False else parse_duration(str(value))
        if value is not False and (unclaimed is None or unclaimed <= timedelta(0)):
            raise _fail("unclaimed_after", f"时长 '{value}' 应写成 4h、1d 这样，或写 false 关闭")
    reminder = _share(raw.get("reminder_at", defaults.reminder_at), "reminder_at", upper=1.0)
    escalate = _share(raw.get("escalate_at", defaults.escalate_at), "escalate_at", upper=10.0)
    todo = _clock(raw.get("daily_todo", "08:00"), "daily_todo") if daily_todo else None
    weekday, digest_at = defaults.digest_weekday, defaults.digest_at
    if "digest" in raw:
        value = raw["digest"]
        if value is False:
            digest_at = None
        else:
            day, _, clock = str(value).strip().partition(" ")
            if day.lower() not in WEEKDAYS:
                raise _fail("digest", f"'{value}' 应写成 周一 08:00 这样，或写 false 关闭")
            weekday = WEEKDAYS[day.lower()]
            digest_at = _clock(clock.strip() or "08:00", "digest")
    chart = raw.get("digest_chart", True)
    if not isinstance(chart, bool):
        raise _fail("digest_chart", "应写 true 或 false")
    return SchedulerConfig(
        quiet_hours=grid.quiet_hours,
        unclaimed_after=unclaimed,
        reminder_at=reminder,
        escalate_at=escalate,
        todo_at=todo,
        digest_weekday=weekday,
        digest_at=digest_at,
        digest_chart=chart,
    )
