"""The operator's two setting files: .env.example lists every setting the program reads, and
every setting line of both has a comment in Chinese above it (a county IT person reads them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ports.settings import REPO_ROOT, Settings

SETTING = re.compile(r"^#?\s*([A-Z][A-Z0-9_]+)=")
CJK = re.compile(r"[\u4e00-\u9fff]")
FILES = [REPO_ROOT / ".env.example", REPO_ROOT / "deploy" / "env.example"]


def settings_in(path: Path) -> dict[str, list[str]]:
    """Each setting named in the file (commented out or not), with the comment lines above it
    in its paragraph (lines up to the previous blank line)."""
    found: dict[str, list[str]] = {}
    above: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            above = []
            continue
        match = SETTING.match(line)
        if match:
            found.setdefault(match.group(1), list(above))
        elif line.startswith("#"):
            above.append(line)
    return found


def test_env_example_lists_every_setting() -> None:
    names = set(settings_in(REPO_ROOT / ".env.example"))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - names == set(), "missing from .env.example"
    assert names - fields == set(), "not a setting"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_setting_has_a_chinese_comment(path: Path) -> None:
    no_words = [
        name for name, comment in settings_in(path).items() if not CJK.search("".join(comment))
    ]
    assert no_words == [], f"{path.name}: settings without a Chinese comment above them"


def test_env_example_as_a_dot_env_is_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copied to .env unchanged, it starts the program as with no .env at all."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        (REPO_ROOT / ".env.example").read_text(encoding="utf-8"), encoding="utf-8"
    )
    from_file = Settings()
    (tmp_path / ".env").unlink()
    assert from_file == Settings()
