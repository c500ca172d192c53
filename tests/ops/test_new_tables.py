"""The tables of migrations 0014–0017 (常用回复, 组 and homes, 议事 and 回访, 说事码) and the
说事码's uploads travel with `shuoshi backup`/`restore` and `shuoshi db copy --to`: an operator
who moves or restores the server keeps a village's votes, visits and reports."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from storage.backup import backup, restore
from storage.copy import copy_database
from storage.db import make_engine
from tests.ops.util import NEW_TABLES, fill_new_tables, make, post, table_rows


@pytest.fixture
def empty_target(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored' / 'shuoshi.db'}"
    return str(request.getfixturevalue("empty_pg"))


def test_backup_and_restore_keep_the_new_tables_and_the_uploads(
    database_url: str, tmp_path: Path, empty_target: str
) -> None:
    app = make(database_url, migrate=False)
    post(app, 0)
    fill_new_tables(app)
    want = table_rows(app.engine)
    assert all(want[name] for name in NEW_TABLES)
    data = tmp_path / "data"
    upload = data / "qrcode" / "tok-1" / "photo-1.jpg"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"\xff\xd8 a photo from the phone page")
    archive = tmp_path / "b.tar.gz"

    manifest = backup(database_url, data, archive)
    assert all(manifest.counts[name] == len(want[name]) for name in NEW_TABLES)
    with tarfile.open(archive) as tar:
        assert "data/qrcode/tok-1/photo-1.jpg" in tar.getnames()

    restored = tmp_path / "restored-data"
    restore(archive, empty_target, restored)
    engine = make_engine(empty_target)
    assert table_rows(engine) == want
    engine.dispose()
    assert (restored / upload.relative_to(data)).read_bytes() == upload.read_bytes()
    app.engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_db_copy_carries_the_new_tables(database_url: str, tmp_path: Path) -> None:
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    source = make(source_url)
    post(source, 0)
    fill_new_tables(source)
    want = table_rows(source.engine)
    source.engine.dispose()

    counts = copy_database(source_url, database_url, force=True)

    assert all(counts[name] == len(want[name]) > 0 for name in NEW_TABLES)
    target = make_engine(database_url)
    assert table_rows(target) == want
    target.dispose()
