from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from ports.settings import DEMO_GRID
from storage.grid import GridError, load_grid, parse_grid, sync_grid
from storage.models import ChatGroup, GroupMember, Person, PersonId, Village

SHAPE = """
timezone = "Asia/Shanghai"          # optional, this default
quiet_hours = "21:00-07:30"         # optional, this default (used by the scheduler issue)
[deadlines]                         # optional; defaults below (定时限)
村里事 = "7d"
邻里事 = "1d"
户里事 = "3d"
[town]
name = "青石镇"
[[town.people]]
name = "陈镇长"
role = "镇领导"                      # top of the escalation ladder
ids = ["local:陈镇长"]
[[villages]]
name = "新联村"
[[villages.people]]
name = "李书记"
role = "书记"                        # party secretary: supervises, assigns, gets the digest
kinds = []                          # kinds this person takes as owner
ids = ["local:李书记", "telegram:10001"]
[[villages.people]]
name = "张姐"
role = "网格员"
kinds = ["户里事", "村里事"]
ids = ["local:张姐"]
[[villages.groups]]
name = "新联村说事群"
chats = ["local:新联村说事群", "telegram:-1001234567890", "wechat:20999@chatroom"]
members = ["张姐"]                   # the owner pool of this group; default: every village person with kinds
"""


def test_the_documented_shape_loads() -> None:
    grid = parse_grid(SHAPE)
    assert grid.timezone == "Asia/Shanghai"
    assert grid.deadlines["邻里事"].days == 1 and grid.deadlines["村里事"].days == 7
    assert grid.town_name == "青石镇" and grid.town_people[0].role == "镇领导"
    village = grid.villages[0]
    assert [p.name for p in village.people] == ["李书记", "张姐"]
    assert village.groups[0].members == ["张姐"]
    assert "telegram:-1001234567890" in village.groups[0].chats


def test_demo_grid_loads() -> None:
    grid = load_grid(DEMO_GRID)
    assert [v.name for v in grid.villages] == ["新联村", "石桥村"]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (
            ('kinds = ["户里事", "村里事"]', 'kinds = ["户里事", "村事"]'),
            "villages[0].people[1].kinds",
        ),
        (('ids = ["local:张姐"]', 'ids = ["local:李书记"]'), "villages[0].people[1].ids"),
        (('members = ["张姐"]', 'members = ["王五"]'), "villages[0].groups[0].members"),
        # A title may be anything (村长大人 is a cadre, with a warning); a duty may not.
        (('role = "网格员"', 'role = "网格员"\nduty = "村长大人"'), "villages[0].people[1].duty"),
        (('村里事 = "7d"', '村里事 = "七天"'), "deadlines.村里事"),
        (('quiet_hours = "21:00-07:30"', 'quiet_hours = "晚上"'), "quiet_hours"),
    ],
)
def test_errors_name_the_key(change: tuple[str, str], key: str) -> None:
    with pytest.raises(GridError) as err:
        parse_grid(SHAPE.replace(*change))
    assert key in str(err.value)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GridError, match="找不到"):
        load_grid(tmp_path / "nope.toml")


def test_sync_is_idempotent_and_deactivates_instead_of_deleting(database_url: str) -> None:
    from storage.db import make_engine

    engine = make_engine(database_url)
    grid = load_grid(DEMO_GRID)
    for _ in range(2):
        with Session(engine) as session:
            sync_grid(session, grid)
            session.commit()
    with Session(engine) as session:
        assert len(session.exec(select(Village)).all()) == 2
        assert len(session.exec(select(Person)).all()) == 9
        assert len(session.exec(select(PersonId)).all()) == 10
        # 2 named + 刘叔 by default (三组's 孙组长 and 周大姐 take its matters, not the pool's)
        assert len(session.exec(select(GroupMember)).all()) == 3
    smaller = DEMO_GRID.read_text(encoding="utf-8").split('[[villages]]\nname = "石桥村"')[0]
    smaller = smaller.replace('members = ["张姐", "王哥"]', 'members = ["张姐"]')
    with Session(engine) as session:
        sync_grid(session, parse_grid(smaller.replace('name = "王哥"', 'name = "王哥哥"')))
        session.commit()
    with Session(engine) as session:
        people = {p.name: p.active for p in session.exec(select(Person)).all()}
        assert people["王哥"] is False and people["王哥哥"] is True and people["刘叔"] is False
        assert session.exec(select(Village).where(Village.name == "石桥村")).one().active is False
        group = session.exec(select(ChatGroup).where(ChatGroup.name == "石桥村说事群")).one()
        assert group.active is False
    engine.dispose()
