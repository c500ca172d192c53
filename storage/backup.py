"""`shuoshi backup FILE` / `shuoshi restore FILE`: the database and the data folder (attachments,
the admin secret) in one .tar.gz, taken while the bot runs.

Archive:
    manifest.json          format, time, kind of database, migration revision, rows per table
    database/shuoshi.db    SQLite: a copy made with SQLite's online backup API (one consistent
                           snapshot; the bot keeps writing meanwhile, WAL)
    database/shuoshi.pgdump  PostgreSQL: `pg_dump --format=custom` of one exported snapshot,
                           the same snapshot the row counts in the manifest come from
    data/…                 the data folder, without the database files

The database is copied first and the folder after it. Attachments are written before the
message that refers to them is recorded, and never removed, so every file the copied database
mentions is in the archive.

Restore puts the database in place (an existing one only with `force`; a SQLite file is kept
beside as `….before-restore-<time>`), unpacks the folder and checks the row counts against the
manifest. A SQLite archive restores into PostgreSQL too (through storage/copy.py).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select, table, text
from sqlalchemy.engine import URL, Connection, Engine, make_url

from storage.db import current_revision, make_engine

FORMAT = 1
SQLITE_MEMBER = "database/shuoshi.db"
PG_MEMBER = "database/shuoshi.pgdump"
RUNTIME = {"lease"}  # not copied between databases (storage/copy.py)


class BackupError(Exception):
    """What went wrong, in words for the operator."""


@dataclass
class Manifest:
    format: int
    created_at: str
    database: str  # sqlite, postgresql
    revision: str | None
    counts: dict[str, int]
    files: int = 0
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# backup
# --------------------------------------------------------------------------------------------


def backup(url: str, data_dir: Path, dest: Path) -> Manifest:
    """Write the archive to `dest` (atomically: a .part file renamed at the end)."""
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    kind = make_url(url).get_backend_name()
    with tempfile.TemporaryDirectory(prefix="shuoshi-backup-") as tmp:
        work = Path(tmp)
        if kind == "sqlite":
            db_file, member = work / "shuoshi.db", SQLITE_MEMBER
            counts, revision = _sqlite_snapshot(_sqlite_path(url), db_file)
        elif kind == "postgresql":
            db_file, member = work / "shuoshi.pgdump", PG_MEMBER
            counts, revision = _pg_snapshot(url, db_file)
        else:
            raise BackupError(f"不支持的数据库：{kind}")
        manifest = Manifest(FORMAT, datetime.now(UTC).isoformat(), kind, revision, counts)
        skip = _database_files(url) | {dest, part}
        try:
            with tarfile.open(part, "w:gz", compresslevel=6) as tar:
                tar.add(db_file, arcname=member)
                for path, name in _data_files(data_dir, skip):
                    tar.add(path, arcname=f"data/{name}", recursive=False)
                    manifest.files += 1
                raw = json.dumps(asdict(manifest), ensure_ascii=False, indent=1).encode()
                info = tarfile.TarInfo("manifest.json")
                info.size, info.mtime = len(raw), int(datetime.now().timestamp())
                tar.addfile(info, io.BytesIO(raw))
            part.replace(dest)
        finally:
            part.unlink(missing_ok=True)
    return manifest


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("内存数据库无法备份")
    return Path(database).resolve()


def _database_files(url: str) -> set[Path]:
    if make_url(url).get_backend_name() != "sqlite":
        return set()
    path = _sqlite_path(url)
    return {path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))}


def _sqlite_snapshot(source: Path, copy: Path) -> tuple[dict[str, int], str | None]:
    if not source.exists():
        raise BackupError(f"数据库文件不存在：{source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(copy)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        src.backup(dst)  # all pages in one step: one consistent snapshot
    finally:
        src.close()
    try:
        dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
        if dst.execute("PRAGMA quick_check").fetchone() != ("ok",):
            raise BackupError("备份副本校验失败（PRAGMA quick_check）")
    finally:
        dst.close()
    engine = make_engine(f"sqlite:///{copy}")
    try:
        with engine.connect() as conn:
            return _counts(conn), current_revision(engine)
    finally:
        engine.dispose()


def _counts(conn: Connection) -> dict[str, int]:
    names = inspect(conn).get_table_names()
    return {
        name: int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())
        for name in sorted(names)
        if not name.startswith("sqlite_")
    }


def _pg_snapshot(url: str, out: Path) -> tuple[dict[str, int], str | None]:
    """pg_dump of an exported snapshot, and the row counts of that same snapshot."""
    pg_dump = _tool("pg_dump")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                counts = _counts(conn)
                revision = _revision(conn)
                done = subprocess.run(
                    [
                        pg_dump,
                        "--format=custom",
                        "--no-owner",
                        "--no-privileges",
                        f"--snapshot={snapshot}",
                        f"--file={out}",
                    ],
                    env=_libpq_env(make_url(url)),
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    raise BackupError(f"pg_dump 失败：{done.stderr.strip()[-500:]}")
    finally:
        engine.dispose()
    return counts, revision


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    heads = MigrationContext.configure(conn).get_current_heads()
    return ",".join(sorted(heads)) or None


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"找不到 {name}：装上 PostgreSQL 客户端（Debian/Ubuntu：apt install postgresql-client，"
            "版本不低于数据库服务器）"
        )
    return found


def _libpq_env(url: URL) -> dict[str, str]:
    """The connection for pg_dump/pg_restore as libpq variables (the password never appears
    on a command line)."""
    env = dict(os.environ)
    for key, value in {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }.items():
        if value:
            env[key] = str(value)
    return env


def _data_files(data_dir: Path, skip: set[Path]) -> Iterator[tuple[Path, str]]:
    if not data_dir.is_dir():
        return
    root = data_dir.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path in skip or name.endswith(".part") or not path.is_file():
                continue
            yield path, path.relative_to(root).as_posix()


# --------------------------------------------------------------------------------------------
# restore
# --------------------------------------------------------------------------------------------


def read_manifest(archive: Path) -> Manifest:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile("manifest.json")
            if member is None:
                raise KeyError("manifest.json")
            raw: dict[str, Any] = json.loads(member.read())
    except (OSError, KeyError, tarfile.TarError, ValueError) as exc:
        raise BackupError(f"{archive} 不是说事的备份文件：{exc}") from exc
    if raw.get("format") != FORMAT:
        raise BackupError(f"备份格式 {raw.get('format')} 不认识（这个版本认 {FORMAT}）")
    return Manifest(**raw)


def restore(archive: Path, url: str, data_dir: Path, *, force: bool = False) -> Manifest:
    """Put the archive's database at `url` and its files in `data_dir`; check the counts."""
    manifest = read_manifest(archive)
    kind = make_url(url).get_backend_name()
    with tempfile.TemporaryDirectory(prefix="shuoshi-restore-") as tmp:
        work = Path(tmp)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(work, filter="data")
        if manifest.database == "sqlite" and kind == "sqlite":
            _restore_sqlite(work / SQLITE_MEMBER, _sqlite_path(url), force)
        elif manifest.database == "postgresql" and kind == "postgresql":
            _restore_pg(work / PG_MEMBER, url, force)
        elif manifest.database == "sqlite" and kind == "postgresql":
            from storage.copy import CopyError, copy_database

            try:
                copy_database(f"sqlite:///{work / SQLITE_MEMBER}", url, force=force)
            except CopyError as exc:
                raise BackupError(str(exc)) from exc
        else:
            raise BackupError(
                "PostgreSQL 的备份只能恢复到 PostgreSQL（把 DATABASE_URL 指向一个 PostgreSQL 库）"
            )
        _restore_files(work / "data", data_dir)
    _check(url, manifest)
    return manifest


def _restore_sqlite(copy: Path, target: Path, force: bool) -> None:
    if target.exists() and target.stat().st_size > 0:
        if not force:
            raise BackupError(f"{target} 已经存在：先停掉机器人，再加 --force（原文件会留一份）")
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target.replace(target.with_name(f"{target.name}.before-restore-{stamp}"))
    for suffix in ("-wal", "-shm", "-journal"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    shutil.copyfile(copy, part)
    part.replace(target)


def _restore_pg(dump: Path, url: str, force: bool) -> None:
    pg_restore = _tool("pg_restore")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            used = [t for t in inspect(conn).get_table_names() if t != "alembic_version"] or (
                ["alembic_version"] if inspect(conn).has_table("alembic_version") else []
            )
    except Exception as exc:
        raise BackupError(f"连不上目标数据库：{exc}") from exc
    finally:
        engine.dispose()
    if used and not force:
        raise BackupError("目标数据库里已经有表：先停掉机器人，再加 --force 覆盖（或换一个空库）")
    args = [pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    if used:
        args += ["--clean", "--if-exists"]
    done = subprocess.run(
        [*args, f"--dbname={make_url(url).database}", str(dump)],
        env=_libpq_env(make_url(url)),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore 失败：{done.stderr.strip()[-500:]}")


def _restore_files(source: Path, data_dir: Path) -> None:
    if not source.is_dir():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.rglob("*")):
        if path.is_file():
            into = data_dir / path.relative_to(source)
            into.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, into)


def _check(url: str, manifest: Manifest) -> None:
    engine: Engine = make_engine(url)
    try:
        with engine.connect() as conn:
            have = _counts(conn)
    finally:
        engine.dispose()
    wrong = [
        f"{name}：备份 {count} 行，恢复后 {have.get(name, 0)} 行"
        for name, count in manifest.counts.items()
        if name in have and have[name] != count and name not in RUNTIME
    ]
    if wrong:
        raise BackupError("恢复后行数不符：" + "；".join(wrong[:5]))
