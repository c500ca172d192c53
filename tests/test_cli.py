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


def _env(tmp_path: Path) -> dict[str, str]:
    import os

    return os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "DATA_DIR": str(tmp_path),
    }


def test_set_password_without_a_terminal_says_what_to_do(tmp_path: Path) -> None:
    """No controlling terminal (a new session: cron, `docker exec` without -t, a CI job) and
    nothing on standard input: one Chinese line that says what works, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "set-password", "李书记"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(tmp_path),
        start_new_session=True,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "没有终端" in lines[0] and "--stdin" in lines[0]
    # --stdin with nothing there: refused, nothing changed.
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "set-password", "李书记", "--stdin"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(tmp_path),
        start_new_session=True,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "标准输入里没有密码" in result.stderr
    # What the message suggests works.
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "set-password", "李书记", "--stdin"],
        input="pass-word-1\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(tmp_path),
        start_new_session=True,
    )
    assert result.returncode == 0, result.stderr
    assert "已为李书记" in result.stdout


def _has_chinese(text: str | None) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text or "")


def test_help_is_chinese_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`shuoshi --help` and every command's help: the usage line, the sections, every command
    and every option explained in Chinese."""
    import argparse

    from bot import cli

    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("用法：shuoshi") and "选项" in out and "显示本帮助并退出" in out
    assert "usage:" not in out and "show this help" not in out

    # Every parser as main builds it: each command, each argument, has Chinese help.
    built: list[argparse.ArgumentParser] = []

    def parse_args(self: argparse.ArgumentParser, *a: object, **k: object) -> None:
        built.append(self)
        raise SystemExit(0)

    monkeypatch.setattr(cli.Parser, "parse_args", parse_args)
    with pytest.raises(SystemExit):
        cli.main([])
    (top,) = built
    commands = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) == set(cli.COMMANDS)
    for listed in commands._choices_actions:
        assert _has_chinese(listed.help), listed.dest
    for name, parser in commands.choices.items():
        for action in parser._actions:
            assert _has_chinese(action.help), (name, action.dest)
        assert parser.format_usage().startswith(f"用法：shuoshi {name}")
        # No English placeholder (VILLAGE, FILE, --db DB) in what an operator types.
        placeholders = [
            a.metavar or a.dest.upper() for a in parser._actions if a.nargs != 0 and not a.choices
        ]
        english = [m for m in placeholders if isinstance(m, str) and m.isascii() and m.isupper()]
        assert not english, (name, english)

    monkeypatch.undo()
    with pytest.raises(SystemExit) as done:
        cli.main(["digest"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "这几个参数要有一个" in err and "usage:" not in err


def test_make_shell_puts_shuoshi_on_the_path() -> None:
    """The README and the messages say `shuoshi …`; after `make run` that works in `make shell`."""
    import os
    import shutil

    if os.environ.get("CI") != "true" and (
        shutil.which("make") is None or not Path(".venv/bin/shuoshi").exists()
    ):
        pytest.skip("needs make and the .venv that `make run` creates")
    result = subprocess.run(
        ["make", "-s", "shell"],
        input="command -v shuoshi\nexit\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"SHELL": "/bin/sh"},
    )
    assert result.returncode == 0, result.stderr
    assert str(Path(".venv/bin/shuoshi").resolve()) in result.stdout


def test_the_start_up_line_names_the_command_as_it_runs_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After `make run` the command is .venv/bin/shuoshi, not on the PATH: the start-up line
    says so; where it is on the PATH (the container, `make shell`) it says `shuoshi`."""
    from bot.serve import shuoshi_command

    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "shuoshi").exists(), "make installs the command beside the interpreter"
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.chdir(bin_dir.parent.parent)
    assert shuoshi_command() == str(Path(bin_dir.parent.name) / "bin" / "shuoshi")
    monkeypatch.setenv("PATH", str(bin_dir))
    assert shuoshi_command() == "shuoshi"


@pytest.mark.parametrize("command", ["set-password", "bind-code", "api-token"])
def test_a_cadres_name_is_asked_for_in_chinese(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The operator's first commands name what they want in Chinese: the usage line and the
    error for a missing name say 姓名 and 村名, not name and VILLAGE."""
    from bot import cli

    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    usage = capsys.readouterr().out.splitlines()[0]
    assert "姓名" in usage and "--village 村名" in usage and "VILLAGE" not in usage
    with pytest.raises(SystemExit) as done:
        cli.main([command])
    assert done.value.code == 2
    assert "缺少参数：姓名" in capsys.readouterr().err
