"""The systemd units and the reverse-proxy sample."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
SHUOSHI = Path(sys.executable).with_name("shuoshi")


def parse(unit: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit, encoding="utf-8")
    return parser


@pytest.mark.parametrize("name", ["shuoshi.service", "shuoshi-wechaty-gateway.service"])
def test_unit_structure(name: str) -> None:
    unit = parse(UNITS / name)
    assert unit.sections() == ["Unit", "Service", "Install"]
    service = unit["Service"]
    assert service["ExecStart"].split()[0].startswith("/")
    assert service["Restart"] == "on-failure"
    assert service.get("User") == "shuoshi" or service.get("DynamicUser") == "yes"
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    assert service["WorkingDirectory"] == "/var/lib/" + service["StateDirectory"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_bot_unit_runs_the_built_command() -> None:
    service = parse(UNITS / "shuoshi.service")["Service"]
    assert service["ExecStart"] == "/opt/shuoshi/bin/shuoshi run"  # deploy/build.sh /opt/shuoshi
    assert service["EnvironmentFile"] == "/etc/shuoshi/shuoshi.env"
    gateway = parse(UNITS / "shuoshi-wechaty-gateway.service")["Service"]
    assert "WECHATY_PUPPET_SERVER_HOST=127.0.0.1" in gateway["Environment"]


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` on both units, with the install prefix pointed at this
    checkout's `shuoshi` (it checks that every Exec* program exists)."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip(
            "systemd-analyze is not installed here (a tool, not a service: the "
            "structural checks above still ran)"
        )
    for unit in UNITS.glob("*.service"):
        text = unit.read_text(encoding="utf-8").replace("/opt/shuoshi/bin/shuoshi", str(SHUOSHI))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    units = sorted(str(p) for p in tmp_path.glob("*.service"))
    done = subprocess.run(
        [tool, "verify", *units], capture_output=True, text=True, timeout=60, check=False
    )
    # verify exits 0 on unknown keys too, but says so: any remark is a failure here.
    problems = [line for line in done.stderr.splitlines() if line.strip()]
    if not Path("/usr/bin/node").exists():  # the gateway's program, absent on some hosts
        problems = [p for p in problems if "/usr/bin/node" not in p]
    assert done.returncode == 0 and not problems, done.stderr


def test_caddyfile() -> None:
    text = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    assert "path /telegram/webhook" in text  # bot.telegram.DEFAULT_WEBHOOK_PATH
    assert re.search(r"@internal path /metrics .*\n\s*respond @internal 404", text)
    assert text.count("reverse_proxy {$SHUOSHI_UPSTREAMS:127.0.0.1:8000}") == 2
    assert "health_uri /readyz" in text
    from bot.telegram import DEFAULT_WEBHOOK_PATH

    assert DEFAULT_WEBHOOK_PATH == "/telegram/webhook"
    caddy = shutil.which("caddy")
    if caddy is not None:  # Debian's caddy package, where installed
        done = subprocess.run(
            [
                caddy,
                "validate",
                "--config",
                str(ROOT / "deploy" / "Caddyfile"),
                "--adapter",
                "caddyfile",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"SHUOSHI_UPSTREAMS": "127.0.0.1:8000 127.0.0.1:8001", "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stderr[-2000:]
