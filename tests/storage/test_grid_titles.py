"""Titles as villages write them, their duties, villagers' groups (组) and town mediators in
the grid file (issue 18); synced on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from storage.grid import DUTIES, GridError, load_grid, parse_grid, sync_grid
from storage.models import Person, Role, Team, TeamMember

# Every title the issue names, and what each is for the product.
ISSUE_TITLES = {
    "主任": Role.CADRE,
    "村主任": Role.CADRE,
    "村委会主任": Role.CADRE,
    "副书记": Role.CADRE,
    "第一书记": Role.CADRE,
    "驻村干部": Role.CADRE,
    "委员": Role.CADRE,
    "会计": Role.CADRE,
    "文书": Role.CADRE,
    "妇女主任": Role.CADRE,
    "治保主任": Role.CADRE,
    "监委会主任": Role.CADRE,
    "组长": Role.GRID,
    "社长": Role.GRID,
    "十户长": Role.GRID,
    "网格员": Role.GRID,
    "调解员": Role.MEDIATOR,
    "镇长": Role.TOWN_LEADER,
    "镇党委书记": Role.TOWN_LEADER,
    "副镇长": Role.TOWN_LEADER,
}
TOWN_TITLES = {"镇长", "镇党委书记", "副镇长"}


def village_file(titles: dict[str, Role]) -> str:
    town = "".join(
        f'[[town.people]]\nname = "镇{i}"\nrole = "{t}"\nids = ["local:镇{i}"]\n'
        for i, t in enumerate(titles)
        if t in TOWN_TITLES
    )
    people = "".join(
        f'[[villages.people]]\nname = "人{i}"\nrole = "{t}"\nkinds = ["村里事"]\n'
        f'ids = ["local:人{i}"]\n'
        for i, t in enumerate(titles)
        if t not in TOWN_TITLES
    )
    return (
        '[town]\nname = "青石镇"\n'
        + town
        + '[[villages]]\nname = "上坝村"\n'
        + '[[villages.people]]\nname = "黄支书"\nrole = "支书"\nids = ["local:黄支书"]\n'
        + people
    )


def test_a_grid_with_every_title_of_the_issue_loads_with_their_duties() -> None:
    grid = parse_grid(village_file(ISSUE_TITLES))
    assert grid.warnings == []
    people = {p.title: p.role for p in grid.town_people + grid.villages[0].people}
    assert people == {**ISSUE_TITLES, "支书": Role.SECRETARY}
    # The documented table knows them all.
    assert all(DUTIES[t] == duty for t, duty in ISSUE_TITLES.items())


def test_an_unknown_title_is_a_cadre_with_a_warning_not_a_refusal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = village_file({"村长大人": Role.CADRE})
    grid = parse_grid(text)
    person = grid.villages[0].people[1]
    assert (person.title, person.role) == ("村长大人", Role.CADRE)
    assert len(grid.warnings) == 1 and "villages[0].people[1].role" in grid.warnings[0]
    assert "村长大人" in grid.warnings[0] and "duty" in grid.warnings[0]
    # Start-up (load_grid) says it in the log.
    path = tmp_path / "grid.toml"
    path.write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="storage.grid"):
        load_grid(path)
    assert any("村长大人" in r.getMessage() for r in caplog.records)


def test_duty_overrides_the_table_and_names_the_one_secretary() -> None:
    text = village_file({"主任": Role.CADRE}).replace(
        'role = "主任"', 'role = "书记"'
    )  # two 书记 in one village
    with pytest.raises(GridError) as err:
        parse_grid(text)
    assert "villages[0].people[1].duty" in str(err.value) and "黄支书" in str(err.value)
    fixed = text.replace('role = "书记"', 'role = "书记"\nduty = "村干部"')
    grid = parse_grid(fixed)
    assert [p.role for p in grid.villages[0].people] == [Role.SECRETARY, Role.CADRE]
    # A title the table does not know, given its duty: no warning.
    grid = parse_grid(
        village_file({}).replace('role = "支书"', 'role = "党支部书记、村委会主任"\nduty = "书记"')
    )
    assert grid.warnings == [] and grid.villages[0].people[0].role == Role.SECRETARY


@pytest.mark.parametrize("title", ["书记兼主任", "支书兼主任", "村党支部书记兼村委会主任"])
def test_the_secretary_who_is_also_the_director_needs_no_duty_key(title: str) -> None:
    """一肩挑: most villages write their 书记 as also the 主任; the table knows it."""
    grid = parse_grid(village_file({}).replace('role = "支书"', f'role = "{title}"'))
    assert grid.warnings == []
    assert (grid.villages[0].people[0].title, grid.villages[0].people[0].role) == (
        title,
        Role.SECRETARY,
    )


def test_a_village_without_secretary_loads_with_a_warning() -> None:
    grid = parse_grid(village_file({"网格员": Role.GRID}).replace('role = "支书"', 'role = "会计"'))
    assert any("没有书记" in w for w in grid.warnings)


TEAMS = """
[town]
name = "青石镇"
[[town.people]]
name = "吴律师"
role = "律师"
kinds = ["邻里事"]
villages = ["上坝村"]
[[villages]]
name = "上坝村"
[[villages.people]]
name = "黄支书"
role = "支书"
[[villages.people]]
name = "孙组长"
role = "组长"
kinds = ["村里事"]
[[villages.people]]
name = "周大姐"
role = "十户长"
kinds = ["户里事"]
[[villages.people]]
name = "刘叔"
role = "网格员"
kinds = ["村里事", "户里事"]
[[villages.groups]]
name = "上坝村说事群"
chats = ["local:上坝村说事群"]
[[villages.teams]]
name = "三组"
aliases = ["3组", "第三村民小组", "三社", "三队"]
people = ["孙组长", "周大姐"]
"""


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('people = ["孙组长", "周大姐"]', 'people = ["王五"]'), "villages[0].teams[0].people"),
        (('aliases = ["3组"', 'aliases = ["三组"'), "villages[0].teams[0].aliases"),
        (('邻里事"]\nvillages', '邻里事"]\nduty = "律师"\nvillages'), "town.people[0].duty"),
    ],
)
def test_team_and_mediator_mistakes_name_the_key(change: tuple[str, str], key: str) -> None:
    with pytest.raises(GridError) as err:
        parse_grid(TEAMS.replace(*change))
    assert key in str(err.value)


def test_a_mediator_serving_a_village_not_in_the_file_is_a_warning() -> None:
    grid = parse_grid(TEAMS.replace('villages = ["上坝村"]', 'villages = ["下坝村"]'))
    assert any("town.people[0].villages" in w and "下坝村" in w for w in grid.warnings)


def test_teams_titles_and_mediators_are_synced(database_url: str) -> None:
    from storage.db import make_engine

    engine = make_engine(database_url)
    grid = parse_grid(TEAMS)
    with Session(engine) as session:
        sync_grid(session, grid)
        session.commit()
        people = {p.name: p for p in session.exec(select(Person))}
        assert (people["孙组长"].title, people["孙组长"].role) == ("组长", Role.GRID)
        assert people["吴律师"].role == Role.MEDIATOR and people["吴律师"].serves == "|上坝村|"
        team = session.exec(select(Team)).one()
        assert team.name == "三组" and "三社" in team.aliases
        members = session.exec(select(TeamMember).order_by(col(TeamMember.position))).all()
        assert [m.person_id for m in members] == [people["孙组长"].id, people["周大姐"].id]
        # The village pool (members not listed): who takes some kind and is in no 组.
        from storage.models import ChatGroup
        from storage.people import group_pool

        group = session.exec(select(ChatGroup)).one()
        assert [p.name for p in group_pool(session=session, group_id=group.id or 0)] == ["刘叔"]
    # A 组 taken out of the file is deactivated, never deleted (a villager's residence
    # points at it).
    with Session(engine) as session:
        sync_grid(session, parse_grid(TEAMS.split("[[villages.teams]]")[0]))
        session.commit()
        assert session.exec(select(Team)).one().active is False
    engine.dispose()


def test_existing_grid_files_keep_working() -> None:
    """The shape the README showed before titles and 组: same duties, no warnings."""
    from tests.storage.test_grid import SHAPE

    grid = parse_grid(SHAPE)
    assert grid.warnings == [] and grid.same_day == set()
    assert [(p.title, p.role) for p in grid.villages[0].people] == [
        ("书记", Role.SECRETARY),
        ("网格员", Role.GRID),
    ]


def test_same_day_deadline_in_either_place() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    grid = parse_grid(TEAMS + '[deadlines]\n邻里事 = "当天"\n')
    assert grid.same_day == {"邻里事"}
    assert grid.due("邻里事", datetime(2026, 11, 23, 9, 0, tzinfo=tz)) == datetime(
        2026, 11, 23, 21, 0, tzinfo=tz
    )
    assert grid.due("邻里事", datetime(2026, 11, 24, 6, 0, tzinfo=tz)) == datetime(
        2026, 11, 24, 21, 0, tzinfo=tz
    )
    assert grid.due("村里事", datetime(2026, 11, 23, 9, 0, tzinfo=tz)).day == 30
    # The per-kind table says the same.
    grid = parse_grid(TEAMS + '[kinds.邻里事]\ndeadline = "当天"\n')
    assert grid.same_day == {"邻里事"}
    with pytest.raises(GridError, match=r"kinds\.邻里事\.deadline"):
        parse_grid(TEAMS + '[kinds.邻里事]\ndeadline = "明早"\n')


def test_doctor_warns_of_an_unknown_title(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import io

    from ops.doctor import Doctor, report
    from ports.settings import Settings

    path = tmp_path / "grid.toml"
    path.write_text(village_file({"村长大人": Role.CADRE}), encoding="utf-8")
    settings = Settings(grid_file=path, database_url=f"sqlite:///{tmp_path / 'x.db'}")  # type: ignore[call-arg]
    doctor = Doctor(settings, timeout=1)
    doctor.check_grid()
    assert [f.level for f in doctor.findings] == ["ok", "warn"]  # loads; a warning, no refusal
    out = io.StringIO()
    assert report(doctor.findings, out) == 0
    assert "村长大人" in out.getvalue() and "村干部" in out.getvalue()
    # Said once, in the report: not also as a log line above it.
    assert not [r for r in caplog.records if "村长大人" in r.getMessage()]
