"""`shuoshi db copy`: SQLite → PostgreSQL, every row, ids kept, sequences moved on."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.copy import CopyError, copy_database
from storage.models import Event, Inbound, Issue, Outbox
from tests.conftest import Chat
from tests.ops.util import count, issues, make, post, timeline


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_sqlite_to_postgresql(database_url: str, tmp_path: Path) -> None:
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    source = make(source_url)
    chat = Chat(source)
    chat.say("张大爷: 说事 村口路灯坏了好几天了\n张姐 re#1: 认领\n@wait 1h\n张姐 re#1: 办结 已修好")
    for i in range(30):
        post(source, i)
    want = {m: count(source.engine, m) for m in (Issue, Event, Inbound, Outbox)}
    want_timeline, want_issues = timeline(source.engine), issues(source.engine)
    source.engine.dispose()

    counts = copy_database(source_url, database_url, force=True)
    assert counts["issue"] == want[Issue] == 31
    target = make(database_url, migrate=False)
    assert {m: count(target.engine, m) for m in want} == want
    assert timeline(target.engine) == want_timeline  # same ids, same instants
    assert issues(target.engine) == want_issues
    # The bot goes on where it stopped: fresh ids from the moved sequences, the next number.
    post(target, 999)
    assert count(target.engine, Issue) == 32
    assert max(n for _i, n, *_ in issues(target.engine)) == 32
    target.engine.dispose()

    with pytest.raises(CopyError, match="已经有数据"):
        copy_database(source_url, database_url)


def test_refuses_an_unmigrated_source(tmp_path: Path, database_url: str) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(CopyError, match="shuoshi db upgrade"):
        copy_database(f"sqlite:///{empty}", database_url)
