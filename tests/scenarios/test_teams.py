"""The grid as villages have it (issue 18), told as the groups live it: a matter of a 组 goes
to its 组长 (小事不出组), climbs to the village then the town when it is late, and is counted at
the level it was settled; a villager says once which 组 they live in; a town mediator takes a
邻里事; a 邻里事 due 当天 is due before the quiet hours. Demo grid: 石桥村 has 三组 (孙组长 takes
村里事 and 邻里事, 周大姐 户里事), its village pool is 刘叔, its 书记 赵书记; 吴律师 is the
town's mediator."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from admin.export import csv_rows
from bot.app import App
from ports.settings import DEMO_GRID
from scheduler.digest import Week, village_figures
from storage.figures import stats
from storage.issues import IssueFilter
from storage.models import Issue, Level, Person, Village
from tests.conftest import Chat


def issue(app: App, number: int) -> Issue:
    with Session(app.engine) as session:
        return session.exec(select(Issue).where(Issue.number == number)).one()


def owner(app: App, number: int) -> str:
    with Session(app.engine) as session:
        found = session.get(Person, issue(app, number).owner_id)
        return found.name if found else ""


def told(lines: list[str], who: str) -> list[str]:
    return [line for line in lines if f"→ {who} (私聊)" in line]


def levels(app: App, day: date) -> dict[str, int]:
    with Session(app.engine) as session:
        village = session.exec(select(Village).where(Village.name == "石桥村")).one()
        return village_figures(session, village, Week.of(day, ZoneInfo("Asia/Shanghai"))).levels


def test_a_matter_of_a_team_climbs_the_ladder_and_is_counted_where_it_was_settled(
    chat: Chat,
) -> None:
    app = chat.app
    chat.say("@in 石桥村说事群")
    # Named by its 组: to the 组长, at 组 level (not to 刘叔, the village pool).
    out = chat.say("老马: #村里事 三组的水渠堵了，水漫到路上")
    assert owner(app, 1) == "孙组长" and issue(app, 1).level == Level.GROUP
    assert told(out, "孙组长") and not told(out, "刘叔")
    # 3组 is 三组 too; its 组长 settles it: counted at 组 level.
    chat.say("老马: #村里事 3组的路灯坏了")
    assert owner(app, 2) == "孙组长"
    chat.say("孙组长: 办结 2 已换灯泡")
    assert issue(app, 2).settled_level == Level.GROUP
    # Naming no 组: the village pool, at 村 level, and counted there.
    chat.say("老马: #村里事 村口垃圾没人收")
    assert owner(app, 3) == "刘叔" and issue(app, 3).level == Level.VILLAGE
    chat.say("刘叔: 办结 3 已清运")
    assert issue(app, 3).settled_level == Level.VILLAGE

    # #1 is late (7 days): the rung above the 组 hears of it, the village pool and the 书记.
    out = chat.say("@at 2026-11-30 09:30")
    for who in ("孙组长", "赵书记", "刘叔"):
        assert any("#1" in line for line in told(out, who)), who
    assert not any("#1" in line for line in told(out, "陈镇长"))
    assert issue(app, 1).level == Level.VILLAGE
    # Late by another limit: the town.
    out = chat.say("@at 2026-12-07 09:30")
    assert any("#1" in line for line in told(out, "陈镇长"))
    assert issue(app, 1).level == Level.TOWN
    chat.say("陈镇长: 办结 1 镇里协调水利站清淤")
    assert issue(app, 1).settled_level == Level.TOWN

    # Counted in the week each was settled, the way the practice counts 组 / 村 / 镇.
    assert levels(app, date(2026, 11, 23)) == {"group": 1, "village": 1, "town": 0}
    assert levels(app, date(2026, 12, 7)) == {"group": 0, "village": 0, "town": 1}
    # The admin's figures (统计) and the ledger (台账) count the same.
    tz = ZoneInfo("Asia/Shanghai")
    with Session(app.engine) as session:
        figures = stats(
            session=session,
            start=datetime(2026, 11, 23, tzinfo=tz),
            weeks=3,
            villages=None,
            now=app.clock.now(),
        )
    assert figures.total.levels == {"group": 1, "village": 1, "town": 1}
    ledger = b"".join(csv_rows(app, IssueFilter())).decode("utf-8-sig")
    rows = {r["编号"]: r["办结层级"] for r in csv.DictReader(io.StringIO(ledger))}
    assert rows == {"1": "镇", "2": "组", "3": "村"}


def test_a_villager_says_once_where_they_live(chat: Chat) -> None:
    app = chat.app
    chat.say("@in 石桥村说事群")
    answer = "\n".join(chat.bot_lines("老马: 我是三组的"))
    assert "三组" in answer
    # What they report later starts at their 组: 户里事 → 周大姐, 邻里事 → 孙组长.
    chat.say("老马: #户里事 我家屋顶漏雨")
    assert owner(app, 1) == "周大姐" and issue(app, 1).level == Level.GROUP
    chat.say("老马: #邻里事 隔壁的牛吃了我家的菜")
    assert owner(app, 2) == "孙组长"
    # Privately too: the bot knows the person, not the chat.
    chat.say("@dm\n老马: #户里事 我家电表不走了")
    assert owner(app, 3) == "周大姐"
    # A 组 the village does not have: said so, with the ones it has; nothing registered.
    chat.say("@in 石桥村说事群")
    answer = "\n".join(chat.bot_lines("老马: 我是九组的"))
    assert "三组" in answer and "九组" in answer
    assert owner(app, 1) == "周大姐"  # still known as 三组's
    # Not about a 组: an ordinary post (here: registered as the matter it is).
    chat.say("老周: 我是老周")
    chat.say("老周: #户里事 我家屋顶漏雨")
    assert owner(app, 4) == "刘叔"  # 老周's 组 is unknown: the village pool
    # In a village without 组 the sentence is just a post.
    chat.say("@in 新联村说事群")
    assert not any("记下了" in line for line in chat.bot_lines("张大爷: 我是三组的"))


def test_a_town_mediator_takes_a_neighbours_dispute(chat: Chat) -> None:
    app = chat.app
    chat.say("老周: #邻里事 邻居把路堵了不让过")  # 新联村 → 王哥
    assert owner(app, 1) == "王哥"
    out = "\n".join(chat.bot_lines("李书记: 指派 1 吴律师"))
    assert "吴律师" in out and owner(app, 1) == "吴律师"
    # Not of the village, yet the matter's owner: claims and closes it.
    assert "已由吴律师认领" in "\n".join(chat.bot_lines("吴律师: 认领 1"))
    chat.say("吴律师: 办结 1 双方同意各让一米")
    assert issue(app, 1).status == "closed"
    # A 村里事 is not a mediator's.
    chat.say("张大爷: #村里事 村口路灯坏了")
    out = "\n".join(chat.bot_lines("李书记: 指派 2 吴律师"))
    assert owner(app, 2) != "吴律师" and "吴律师" in out  # refused, naming who may be chosen


def test_a_same_day_deadline_is_before_the_quiet_hours(
    tmp_path: Path, make_app: Callable[..., App]
) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(
        DEMO_GRID.read_text(encoding="utf-8").replace('邻里事 = "1d"', '邻里事 = "当天"'),
        encoding="utf-8",
    )
    chat = Chat(make_app(grid=grid))
    out = "\n".join(chat.bot_lines("老周: #邻里事 邻居把路堵了不让过"))
    assert "11月23日 21:00" in out  # 纠纷不过夜
    assert issue(chat.app, 1).due_at.astimezone(ZoneInfo("Asia/Shanghai")).hour == 21
    # Raised inside the quiet hours: due when they next begin.
    out = "\n".join(chat.bot_lines("@at 2026-11-23 22:30\n老刘: #邻里事 隔壁的狗半夜一直叫"))
    assert "11月24日 21:00" in out


def test_a_cadre_sets_where_a_reporter_lives_and_invites_a_mediator(chat: Chat) -> None:
    app = chat.app
    chat.say("@in 石桥村说事群")
    chat.say("老马: #户里事 我家屋顶漏雨")  # 组 unknown: the village pool
    assert owner(app, 1) == "刘叔"
    assert "三组" in "\n".join(chat.bot_lines("刘叔: 设组 1 3组"))
    chat.say("老马: #户里事 我家电表不走了")  # now known as 三组's
    assert owner(app, 2) == "周大姐"
    assert "三组" in "\n".join(chat.bot_lines("刘叔: 设组 1 九组"))  # names the ones there are
    # A 邻里事's owner asks the town's mediator to help: he gets the matter privately.
    chat.say("老马: #邻里事 隔壁的牛吃了我家的菜")
    assert owner(app, 3) == "孙组长"
    out = chat.bot_lines("孙组长: 邀请 3 吴律师")
    assert any("吴律师 (私聊)" in line and "牛吃了" in line for line in out)
    assert owner(app, 3) == "孙组长"  # the owner keeps it
    again = chat.bot_lines("孙组长: 邀请 3 吴律师")  # asked twice: not sent twice
    assert not any("吴律师 (私聊)" in line for line in again) and "已经请过" in "\n".join(again)
    # Not for a 户里事; not a stranger's name.
    assert "邻里事" in "\n".join(chat.bot_lines("刘叔: 邀请 1 吴律师"))
    assert "吴律师" in "\n".join(chat.bot_lines("孙组长: 邀请 3 张律师"))
