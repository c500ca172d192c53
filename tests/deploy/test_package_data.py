"""Every file the installed program reads ships in the package: the image and a host install
(deploy/build.sh) install a wheel, not this checkout, and a file left out of the package data
is missing only there (the favicon of every admin page, a template, the model)."""

from __future__ import annotations

import fnmatch
import subprocess
import tomllib
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]


def test_package_data_covers_every_file_the_packages_hold() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    packages = [p.rstrip("*") for p in setuptools["packages"]["find"]["include"]]
    patterns = setuptools["package-data"]["*"]
    tracked = subprocess.run(
        ["git", "ls-files", *packages], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    left_out = [
        name
        for name in tracked
        if not name.endswith((".py", ".pyi"))  # code, and typing stubs nothing reads at run time
        and not any(fnmatch.fnmatch(PurePosixPath(name).name, p) for p in patterns)
    ]
    assert left_out == []
