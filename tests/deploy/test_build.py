"""The image's build steps, run here: the build stage of deploy/Dockerfile is replayed on a
temporary directory (its COPY lines stage the sources, its RUN line runs deploy/build.sh).

Only the dependencies are borrowed from this checkout's environment (pip --no-deps and a .pth
file), so the test needs no download of the pinned packages; everything else, the wheel build
of this project, the virtual environment, the installed `shuoshi` running its migrations, is
what the image build does.
"""

from __future__ import annotations

import os
import shlex
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.test_compose import DEPLOY, ROOT, instructions


@pytest.mark.timeout(300)  # a wheel build in an isolated environment: slow on a busy machine
def test_build_stage_replayed(tmp_path: Path) -> None:
    steps = instructions(DEPLOY / "Dockerfile")
    stage = steps[: [i for i, (w, _) in enumerate(steps) if w == "FROM"][1]]
    workdir = Path(dict(stage)["WORKDIR"])
    src = tmp_path / workdir.relative_to("/")
    src.mkdir(parents=True)
    for word, args in stage:
        if word != "COPY":
            continue
        *sources, dest = args.split()
        target = src / dest
        for source in sources:
            path = ROOT / source
            into = target / path.name if dest.endswith("/") else target
            if path.is_dir():
                shutil.copytree(path, into, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, into)
    [run] = [args for word, args in stage if word == "RUN"]
    argv = shlex.split(run)
    # /opt/shuoshi and /src, moved under tmp_path.
    argv = [str(tmp_path / a.lstrip("/")) if a.startswith("/") else a for a in argv]
    prefix = Path(argv[2])
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", prefix], check=True)
    borrowed = prefix / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    (borrowed / "site-packages" / "borrowed.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n", encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "GRID_", "DATA_"))}
    env |= {"PYTHON": sys.executable, "PIP_INSTALL_OPTIONS": "--no-deps"}
    done = subprocess.run(
        argv, cwd=src, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "database at revision" in done.stdout
    installed = prefix / "bin" / "shuoshi"
    assert installed.exists()
    assert (prefix / "share" / "shuoshi" / "grid.demo.toml").exists()
    # The installed package, not this checkout, answered: its files live under the prefix.
    where = subprocess.run(
        [prefix / "bin" / "python", "-c", "import storage.db; print(storage.db.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(prefix))
