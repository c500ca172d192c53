"""tests/scenarios/reminders.chat through `shuoshi chat --script`, as an operator runs it: each
scheduled message shows at the simulated time it was delivered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scenarios" / "reminders.chat"


def test_reminders_script(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--script", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # anything the run writes stays out of the repository
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()

    def to(stamp: str, who: str) -> list[str]:
        return [line for line in lines if line.startswith(f"{stamp} → {who} (私聊)")]

    assert "#1" in to("2026-11-23 13:00", "王哥")[0]  # not claimed within 4 hours
    # Nothing between 21:00 and 07:30; then one message with both reminders of the night.
    night = [
        line
        for line in lines
        if " → " in line and "2026-11-23 21:00" <= line[:16] < "2026-11-24 07:30"
    ]
    assert night == []
    (merged,) = to("2026-11-24 07:30", "王哥")
    assert "#1" in merged and "#3" in merged
    assert "#1" in to("2026-11-24 09:00", "李书记")[0]  # 督办 to the 书记
    assert "新联村" in to("2026-11-25 09:00", "陈镇长")[0]  # escalated to the town
    assert "#1" in to("2026-11-26 07:30", "王哥")[0]  # reopened: a fresh reminder
    assert len(to("2026-11-24 08:00", "王哥")) == 1  # the daily to-do
    assert "周报" in to("2026-11-30 08:00", "李书记")[0]
    assert "周报" in to("2026-11-30 08:00", "陈镇长")[0]
