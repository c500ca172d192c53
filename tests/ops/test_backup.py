"""`shuoshi backup` / `shuoshi restore`: the database and the data folder in one archive,
taken while posts keep coming, restored to the same issues and the same timeline."""

from __future__ import annotations

import tarfile
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.cli import main
from storage.backup import BackupError, backup, read_manifest, restore
from storage.db import make_engine
from storage.models import Event, Inbound, Issue
from tests.ops.util import (
    count,
    issues,
    load,
    make,
    post,
    timeline,
)


@pytest.fixture
def empty_target(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database of the same kind as `database_url`."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored' / 'shuoshi.db'}"
    return str(request.getfixturevalue("empty_pg"))


def test_backup_and_restore(database_url: str, tmp_path: Path, empty_target: str) -> None:
    app = make(database_url, migrate=False)
    for i in range(20):
        post(app, i)
    data = tmp_path / "data"
    (data / "attachments").mkdir(parents=True)
    (data / "attachments" / "AgADphoto.jpg").write_bytes(b"\xff\xd8 a photo")
    (data / "secret").write_text("admin secret")
    archive = tmp_path / "backups" / "shuoshi.tar.gz"

    manifest = backup(database_url, data, archive)

    assert manifest.counts["issue"] == 20 and manifest.files == 2
    assert read_manifest(archive).counts == manifest.counts
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "data/attachments/AgADphoto.jpg", "data/secret"} <= names
    target = empty_target
    restored_data = tmp_path / "restored-data"
    restore(archive, target, restored_data)
    engine = make_engine(target)
    assert issues(engine) == issues(app.engine)
    assert timeline(engine) == timeline(app.engine)
    assert (restored_data / "attachments" / "AgADphoto.jpg").read_bytes() == b"\xff\xd8 a photo"
    engine.dispose()
    with pytest.raises(BackupError, match="--force"):
        restore(archive, target, restored_data)
    restore(archive, target, restored_data, force=True)  # over it, on purpose
    app.engine.dispose()


def test_backup_during_load_restores_a_consistent_state(
    database_url: str, tmp_path: Path, empty_target: str
) -> None:
    """Posts keep being registered while the backup runs. The restored database is one moment
    of the live one: the counts of the manifest, every issue with its whole timeline so far,
    every registered post with its issue, and nothing that the live database does not have."""
    app = make(database_url, migrate=False)
    archive = tmp_path / "during.tar.gz"
    with load(app) as posted:
        while posted[0] < 30:
            time.sleep(0.02)
        manifest = backup(database_url, tmp_path / "data", archive)
        at_backup = posted[0]
        while posted[0] < at_backup + 20:  # and it goes on after the snapshot
            time.sleep(0.02)
    target = empty_target
    restore(archive, target, tmp_path / "restored-data")
    engine = make_engine(target)
    restored_issues = count(engine, Issue)
    assert restored_issues == manifest.counts["issue"]
    assert 30 <= restored_issues < count(app.engine, Issue)
    live = {row[0]: row for row in timeline(app.engine)}
    mine = timeline(engine)
    assert mine and all(live[row[0]] == row for row in mine)  # a subset, row for row
    live_issues = {row[0]: row[:4] for row in issues(app.engine)}
    assert all(live_issues[row[0]] == row[:4] for row in issues(engine))
    with Session(engine) as session:
        created = set(session.exec(select(Event.issue_id).where(Event.kind == "created")))
        ids = set(session.exec(select(Issue.id)))
        matters = session.exec(select(Inbound).where(Inbound.status == "matter")).all()
    assert created == ids
    assert len(matters) == restored_issues and {m.issue_id for m in matters} == ids
    engine.dispose()
    app.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_archive_restores_into_postgresql(
    database_url: str, tmp_path: Path, empty_pg: str
) -> None:
    app = make(database_url, migrate=False)
    for i in range(5):
        post(app, i)
    archive = tmp_path / "a.tar.gz"
    backup(database_url, tmp_path / "data", archive)
    target = empty_pg
    restore(archive, target, tmp_path / "restored-data")
    engine = make_engine(target)
    assert timeline(engine) == timeline(app.engine)
    engine.dispose()
    app.engine.dispose()


def test_not_an_archive(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(BackupError, match="不是说事的备份"):
        read_manifest(junk)


def test_commands(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    empty_pg: str,
) -> None:
    """The three commands as an operator types them (SQLite here, then copied to PostgreSQL)."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'shuoshi.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    app = make(url)
    for i in range(3):
        post(app, i)
    app.engine.dispose()
    assert main(["backup", "b.tar.gz"]) == 0
    assert "备份完成" in capsys.readouterr().out
    assert main(["restore", "b.tar.gz"]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["restore", "b.tar.gz", "--force"]) == 0
    assert "行数已核对" in capsys.readouterr().out
    target = empty_pg
    assert main(["db", "copy", "--to", target]) == 0
    out = capsys.readouterr().out
    assert "复制完成" in out and "issue：3 行" in out
    assert main(["db", "copy", "--to", target]) == 1
    assert "目标库没有改动" in capsys.readouterr().err
