"""The `shuoshi` command as an operator uses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """\
# 一个小场景
@at 2026-11-23 09:00
@in 新联村说事群
张大爷: 村口路灯坏了好几天了
王婶: 收到
张姐 re#1: 认领
@wait 1h
张姐: 办结 1 已换新灯泡
张大爷 [满意]
"""


def shuoshi(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_chat_script_prints_the_transcript(tmp_path: Path) -> None:
    script = tmp_path / "s.chat"
    script.write_text(SCRIPT, encoding="utf-8")
    result = shuoshi("chat", "--script", str(script))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "2026-11-23 09:00 ← 新联村说事群 张大爷: 村口路灯坏了好几天了"
    assert lines[1].startswith("2026-11-23 09:00 → 新联村说事群: ") and "#1" in lines[1]
    assert any(line.startswith("2026-11-23 09:00 → 张姐 (私聊): ") for line in lines)
    assert any(
        line.startswith("2026-11-23 10:00 → 新联村说事群: ") and "已换新灯泡" in line
        for line in lines
    )
    assert "[满意] [基本满意] [不满意]" in result.stdout
    assert "谢谢" in lines[-1]


def test_malformed_script_exits_2_with_the_line(tmp_path: Path) -> None:
    script = tmp_path / "bad.chat"
    script.write_text("@at 2026-11-23 09:00\n@in 新联村说事群\n@fly 3\n", encoding="utf-8")
    result = shuoshi("chat", "--script", str(script))
    assert result.returncode == 2
    assert "第3行" in result.stderr


def test_clock_never_goes_backwards(tmp_path: Path) -> None:
    script = tmp_path / "back.chat"
    script.write_text("@at 2026-11-23 09:00\n@at 2026-11-22 09:00\n", encoding="utf-8")
    result = shuoshi("chat", "--script", str(script))
    assert result.returncode == 2 and "第2行" in result.stderr


def test_classify_adds_label_and_confidence() -> None:
    lines = [
        {"text": "村口的路灯坏了好几天了，晚上黑漆漆的"},
        {"text": "收到"},
        {"text": "隔壁老王家的鸡天天跑到我家菜地里吃菜，说了也不管"},
    ]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\nnot json\n"
    result = shuoshi("classify", stdin=stdin)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("label") for o in out[:3]] == ["村里事", "非事项", "邻里事"]
    assert all(0 <= o["confidence"] <= 1 for o in out[:3])
    assert "error" in out[3]
    # As intake would decide them in a group: the decision, P(matter), the kind, and whether
    # the group reads the text (a dispute: never).
    assert [o["decision"] for o in out[:3]] == ["registered", "chatter", "registered"]
    assert [o["kind"] for o in (out[0], out[2])] == ["村里事", "邻里事"]
    assert out[0]["shown_in_group"] is True and out[2]["shown_in_group"] is False
    assert out[0]["matter"] > 0.6 > out[1]["matter"]


def test_classify_follows_tags_and_report_words_as_intake_does() -> None:
    lines = [{"text": "#户里事 村里的路灯坏了"}, {"text": "说事 收到"}, {"text": "认领 3"}]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    result = shuoshi("classify", stdin=stdin)
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert (out[0]["decision"], out[0]["kind"], out[0]["shown_in_group"]) == (
        "registered",
        "户里事",
        False,
    )
    assert out[1]["decision"] == "registered"  # 说事 always registers
    assert out[2]["decision"] == "command"


def test_bad_grid_stops_with_the_key(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(
        '[[villages]]\nname = "甲村"\n[[villages.people]]\nname = "某"\nkinds = ["乱"]\n',
        encoding="utf-8",
    )
    script = tmp_path / "s.chat"
    script.write_text(f"@grid {grid}\n", encoding="utf-8")
    result = shuoshi("chat", "--script", str(script))
    assert result.returncode == 2
    assert "villages[0].people[0].kinds" in result.stderr


def test_run_does_not_let_uvicorn_believe_forwarded_headers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 14, item 7: only the admin decides whose X-Forwarded-For to believe."""
    import bot.serve
    from ports.settings import Settings

    seen: dict[str, object] = {}

    class Stop(Exception):
        pass

    def config(*args: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(bot.serve.uvicorn, "Config", config)
    monkeypatch.setattr(bot.serve, "freeze_startup_objects", lambda: None)
    with pytest.raises(Stop):
        bot.serve.serve(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", data_dir=tmp_path))
    assert seen["proxy_headers"] is False
