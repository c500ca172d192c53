"""Issue 18 as a real village writes its grid and talks: more than ten 组 (十一组 is not
一组), the ways a villager tells their 组 ("我三组的", "我们是三组的") and what is not that
("我是三组的吗", "我在三组路口等你")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session, select

from bot.app import App
from storage.models import Issue, Person
from tests.conftest import Chat

GRID = """
timezone = "Asia/Shanghai"
quiet_hours = "21:00-07:30"

[town]
name = "青石镇"

[[town.people]]
name = "陈镇长"
role = "镇长"
ids = ["local:陈镇长"]

[[villages]]
name = "大河村"

[[villages.people]]
name = "赵书记"
role = "书记"
ids = ["local:赵书记"]

[[villages.people]]
name = "刘叔"
role = "网格员"
kinds = ["村里事", "邻里事", "户里事"]
ids = ["local:刘叔"]

[[villages.people]]
name = "一组长"
role = "组长"
kinds = ["村里事", "邻里事", "户里事"]
ids = ["local:一组长"]

[[villages.people]]
name = "二组长"
role = "组长"
kinds = ["村里事", "邻里事", "户里事"]
ids = ["local:二组长"]

[[villages.people]]
name = "十一组长"
role = "组长"
kinds = ["村里事", "邻里事", "户里事"]
ids = ["local:十一组长"]

[[villages.people]]
name = "十二组长"
role = "组长"
kinds = ["村里事", "邻里事", "户里事"]
ids = ["local:十二组长"]

[[villages.groups]]
name = "大河村说事群"
chats = ["local:大河村说事群"]

[[villages.teams]]
name = "一组"
aliases = ["1组", "一社"]
people = ["一组长"]

[[villages.teams]]
name = "二组"
aliases = ["2组"]
people = ["二组长"]

[[villages.teams]]
name = "十一组"
aliases = ["11组"]
people = ["十一组长"]

[[villages.teams]]
name = "十二组"
aliases = ["12组"]
people = ["十二组长"]
"""


def owner(app: App, number: int) -> str:
    with Session(app.engine) as session:
        found = session.exec(select(Issue).where(Issue.number == number)).one()
        person = session.get(Person, found.owner_id)
        return person.name if person else ""


def village(tmp_path: Path, make_app: Callable[..., App]) -> Chat:
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID, encoding="utf-8")
    chat = Chat(make_app(grid=grid))
    chat.say("@in 大河村说事群")
    return chat


def test_eleventh_team_is_not_the_first(tmp_path: Path, make_app: Callable[..., App]) -> None:
    chat = village(tmp_path, make_app)
    chat.say("老马: #村里事 十一组的水渠堵了")
    assert owner(chat.app, 1) == "十一组长"
    chat.say("老马: #村里事 12组的路灯坏了")
    assert owner(chat.app, 2) == "十二组长"
    chat.say("老马: #村里事 一组的路灯坏了")
    assert owner(chat.app, 3) == "一组长"
    # Told as home: 十一组 is remembered, not 一组.
    chat.say("老王: 我是十一组的")
    chat.say("老王: #户里事 我家屋顶漏雨")
    assert owner(chat.app, 4) == "十一组长"


def registered(app: App) -> int:
    with Session(app.engine) as session:
        return len(session.exec(select(Issue)).all())


def test_the_ways_a_villager_tells_their_team(chat: Chat) -> None:
    """Demo grid: 石桥村 has 三组 (户里事 → 周大姐); its village pool is 刘叔."""
    chat.say("@in 石桥村说事群")
    for sender, said in (
        ("老一", "我三组的"),
        ("老二", "俺是3组"),
        ("老三", "我们是三组的"),
        ("老四", "我家住在三社"),
        ("老五", "我是石桥村三组的。"),
        ("老六", "俺家是第三村民小组的"),
        ("老七", "我是三组滴"),
    ):
        answer = "\n".join(chat.bot_lines(f"{sender}: {said}"))
        assert "三组" in answer, said
        chat.say(f"{sender}: #户里事 我家屋顶漏雨了，{sender}")
        assert owner(chat.app, registered(chat.app)) == "周大姐", said
    assert registered(chat.app) == 7


def test_what_is_not_telling_a_team(chat: Chat) -> None:
    """A post that starts like "我是三组的" is a post: registered, never swallowed, and the
    sender's 组 is not changed by a question or a place near the 组."""
    chat.say("@in 石桥村说事群")
    chat.say("老马: 我是三组的，路灯坏了好几天了")
    assert registered(chat.app) == 1  # the matter is kept (and it is 三组's)
    assert owner(chat.app, 1) in ("孙组长", "周大姐")
    not_told = ("我是三组的吗", "我是不是三组的", "我家在三组旁边", "我在三组路口等你")
    not_told += ("我是三组长",)
    for said in not_told:
        out = "\n".join(chat.bot_lines(f"老牛: {said}"))
        assert "记下了" not in out, said
    chat.say("老牛: #户里事 我家屋顶漏雨")
    assert owner(chat.app, registered(chat.app)) == "刘叔"  # 老牛's 组 is still unknown


def test_a_same_day_matter_raised_just_before_the_quiet_hours_gets_the_next_day(
    tmp_path: Path, make_app: Callable[..., App]
) -> None:
    """纠纷不过夜, but a dispute told at 20:40 cannot be settled by 21:00: it is due the next
    evening, and the town does not hear of it the next morning together with the 书记."""
    from ports.settings import DEMO_GRID

    grid = tmp_path / "grid.toml"
    grid.write_text(
        DEMO_GRID.read_text(encoding="utf-8").replace('邻里事 = "1d"', '邻里事 = "当天"'),
        encoding="utf-8",
    )
    chat = Chat(make_app(grid=grid))
    out = "\n".join(chat.bot_lines("@at 2026-11-23 20:40\n老周: #邻里事 邻居把路堵了不让过"))
    assert "11月24日 21:00" in out
    out = "\n".join(chat.say("@at 2026-11-24 08:00"))
    assert "陈镇长 (私聊)" not in out
    # Told in the afternoon: still that evening.
    out = "\n".join(chat.bot_lines("@at 2026-11-24 15:00\n老刘: #邻里事 隔壁的狗一直叫"))
    assert "11月24日 21:00" in out


def test_a_newcomer_tells_their_team_privately(chat: Chat) -> None:
    """Never seen in a group: "我是三组的" in a private chat is no matter. Only 石桥村 (demo
    grid) has a 三组, so it is remembered there; a 组 no village has is said so."""
    out = "\n".join(chat.bot_lines("@dm\n新人: 我是三组的"))
    assert "三组" in out and "已登记" not in out
    assert registered(chat.app) == 0
    chat.say("新人: #户里事 我家屋顶漏雨")
    chat.say("新人: 石桥村")  # the bot asks which village a private report is of
    assert owner(chat.app, 1) == "周大姐"
    out = "\n".join(chat.bot_lines("老外: 我是九组的"))
    assert "九组" in out and "已登记" not in out
    assert registered(chat.app) == 1


def test_a_newcomer_of_a_town_where_two_villages_have_the_team(
    tmp_path: Path, make_app: Callable[..., App]
) -> None:
    from ports.settings import DEMO_GRID

    grid = tmp_path / "grid.toml"
    both = '[[villages.teams]]\nname = "三组"\npeople = ["王哥"]\n\n[[villages]]\nname = "石桥村"'
    grid.write_text(
        DEMO_GRID.read_text(encoding="utf-8").replace('[[villages]]\nname = "石桥村"', both),
        encoding="utf-8",
    )
    chat = Chat(make_app(grid=grid))
    out = "\n".join(chat.bot_lines("@dm\n新人: 我是三组的"))
    assert "村名" in out and "已登记" not in out
    out = "\n".join(chat.bot_lines("新人: 我是石桥村三组的"))
    assert "记下了" in out
    chat.say("新人: #户里事 我家屋顶漏雨")
    chat.say("新人: 石桥村")
    assert owner(chat.app, 1) == "周大姐"
