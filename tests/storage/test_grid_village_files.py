"""Grid files as villages type them (issue 18): odd spacing, a name written twice, the town's
own 书记 and 主任."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.grid import GridError, parse_grid
from storage.models import Role

FILE = """
[town]
name = "青石镇"
[[town.people]]
name = "陈书记"
role = "书记"
[[town.people]]
name = "钱主任"
role = "综治办主任"
[[town.people]]
name = "吴律师"
role = "律师"
kinds = [" 邻里事"]
[[villages]]
name = "上坝村"
[[villages.people]]
name = "黄支书"
role = " 支书 "
[[villages.people]]
name = "孙组长"
role = "组长"
kinds = ["村里事 ", "邻里事"]
[[villages.groups]]
name = "上坝村说事群"
chats = ["local:上坝村说事群"]
members = [" 孙组长"]
[[villages.teams]]
name = "三组"
aliases = ["3组", "三社"]
people = [" 孙组长", "孙组长"]
"""


def test_names_and_kinds_with_spaces_around_them_load() -> None:
    grid = parse_grid(FILE)
    village = grid.villages[0]
    assert village.people[1].kinds == ["村里事", "邻里事"]
    assert grid.town_people[2].kinds == ["邻里事"]
    assert village.groups[0].members == ["孙组长"]
    assert village.teams[0].people == ["孙组长"]  # written twice: once


def test_the_towns_secretary_is_a_town_leader() -> None:
    grid = parse_grid(FILE)
    duties = {p.name: (p.title, p.role) for p in grid.town_people}
    # The town's 书记 is its party secretary, not a village's 书记 who sees no village.
    assert duties["陈书记"] == ("书记", Role.TOWN_LEADER)
    # A town title the table does not know: a town leader, with a warning, never a cadre of no
    # village.
    assert duties["钱主任"] == ("综治办主任", Role.TOWN_LEADER)
    assert any("town.people[1].role" in w and "综治办主任" in w for w in grid.warnings)
    assert duties["吴律师"][1] == Role.MEDIATOR
    assert not any("town.people[0]" in w for w in grid.warnings)


def test_a_village_written_twice_with_a_space_is_refused() -> None:
    with pytest.raises(GridError) as err:
        parse_grid(FILE + '[[villages]]\nname = " 上坝村"\n')
    assert "villages[1].name" in str(err.value)


def test_a_teams_word_written_twice_says_so() -> None:
    with pytest.raises(GridError) as err:
        parse_grid(FILE.replace('aliases = ["3组", "三社"]', 'aliases = ["三组", "3组"]'))
    assert "villages[0].teams[0].aliases" in str(err.value) and "本组写了两次" in str(err.value)


def test_of_two_titles_like_a_secretarys_the_one_written_with_duty_is_the_secretary() -> None:
    text = FILE.replace(
        'name = "孙组长"\nrole = "组长"', 'name = "老周"\nrole = "党支部书记"\nduty = "书记"'
    ).replace("孙组长", "老周")
    grid = parse_grid(text)
    people = {p.name: p.role for p in grid.villages[0].people}
    assert people == {"黄支书": Role.CADRE, "老周": Role.SECRETARY}
    assert any("villages[0].people[0].role" in w and "老周" in w for w in grid.warnings)
    # Neither written: the file must say which.
    with pytest.raises(GridError):
        parse_grid(text.replace('duty = "书记"\n', ""))


@pytest.mark.parametrize(
    "written", ["21：00-07：30", " 21:00 - 07:30 ", "21:00~07:30", "21:00至07:30"]
)
def test_quiet_hours_as_a_chinese_keyboard_types_them(written: str) -> None:
    grid = parse_grid(f'quiet_hours = "{written}"\n' + FILE)
    assert [t.strftime("%H:%M") for t in grid.quiet_hours] == ["21:00", "07:30"]


def test_a_group_name_with_spaces_is_kept_without_them() -> None:
    grid = parse_grid(FILE.replace('name = "上坝村说事群"', 'name = " 上坝村说事群 "'))
    assert grid.villages[0].groups[0].name == "上坝村说事群"


def test_deadlines_written_in_chinese_units() -> None:
    deadlines = '[deadlines]\n村里事 = "7天"\n户里事 = "12小时"\n邻里事 = "1天12小时"\n'
    grid = parse_grid(deadlines + FILE)
    assert grid.deadlines["村里事"] == timedelta(days=7)
    assert grid.deadlines["户里事"] == timedelta(hours=12)
    assert grid.deadlines["邻里事"] == timedelta(days=1, hours=12)
