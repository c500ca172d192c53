"""Resident memory of an idle `shuoshi run` on the embedded default (goal: < 150 MB).

Run: .venv/bin/python bench/rss.py   (starts the server on a free port in a temp dir, waits for
/healthz, lets it idle a few seconds, reads VmRSS from /proc, stops it)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/shuoshi.db",
            "DATA_DIR": tmp,
            "ADMIN_PORT": str(port),
        }
        exe = Path(sys.executable).parent / "shuoshi"
        proc = subprocess.Popen(
            [str(exe), "run"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            time.sleep(5)
            print(f"idle shuoshi run RSS: {rss_mb(proc.pid):.0f} MB")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
