"""督办 in the group's time: each reminder, overdue notice and escalation at its simulated
moment, nothing inside the quiet hours, one merged message when they end, never the same
reminder twice, a reopened matter chased afresh (storage on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, col, func, select

from bot.app import App
from scheduler.jobs import Scheduler
from storage.models import Event, Issue, IssueCheck, Level, Outbox, Reminder
from tests.conftest import Chat


def sent(lines: list[str], stamp: str, who: str) -> list[str]:
    """The bot's lines to `who` (privately) at `stamp` ("2026-11-23 13:00")."""
    return [line for line in lines if line.startswith(stamp) and f"→ {who} (私聊)" in line]


def bot_stamps(lines: list[str]) -> list[str]:
    return [line[:16] for line in lines if " → " in line]


def issue(app: App, number: int) -> Issue:
    with Session(app.engine) as session:
        return session.exec(select(Issue).where(Issue.number == number)).one()


def count(app: App, model: type[Reminder] | type[Outbox]) -> int:
    with Session(app.engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_the_ladder_owner_then_secretary_then_town(chat: Chat) -> None:
    # 邻里事: a one-day limit from Monday 09:00.
    out = chat.say("李大妈: #邻里事 隔壁老刘家的水往我家院子里排，电话13812345678\n@wait 2d 1h")

    unclaimed = sent(out, "2026-11-23 13:00", "王哥")  # not claimed within 4 hours
    assert len(unclaimed) == 1 and "#1" in unclaimed[0] and "认领" in unclaimed[0]
    # 75 % of the limit is Tuesday 03:00, inside the quiet hours: it waits until 07:30.
    reminder = sent(out, "2026-11-24 07:30", "王哥")
    assert len(reminder) == 1 and "#1" in reminder[0] and "11月24日 09:00" in reminder[0]
    assert "隔壁老刘家" in reminder[0] and "13812345678" not in reminder[0]  # masked summary
    # Due: the owner and the village 书记.
    assert "督办" in sent(out, "2026-11-24 09:00", "王哥")[0]
    to_secretary = sent(out, "2026-11-24 09:00", "李书记")
    assert len(to_secretary) == 1 and "#1" in to_secretary[0] and "王哥" in to_secretary[0]
    # Overdue by 100 % of the limit: the town, naming the village.
    to_town = sent(out, "2026-11-25 09:00", "陈镇长")
    assert len(to_town) == 1 and "新联村" in to_town[0] and "#1" in to_town[0]
    assert sum("陈镇长" in line for line in out) == 1
    assert not [s for s in bot_stamps(out) if s[11:] >= "21:00" or s[11:] < "07:30"]

    i = issue(chat.app, 1)
    assert i.level == Level.TOWN
    with Session(chat.app.engine) as session:
        escalated = session.exec(
            select(Event.detail)
            .where(Event.issue_id == i.id, Event.kind == "escalated")
            .order_by(col(Event.id))
        ).all()
    assert escalated == ["village", "town"]


def test_quiet_hours_hold_then_one_message_per_person_at_0730(chat: Chat) -> None:
    out = chat.say(
        """
        @at 2026-11-23 19:30
        孙奶奶: #户里事 屋顶漏雨了
        老周: #户里事 院墙裂了一道大缝
        @at 2026-11-23 22:00
        张大爷: #村里事 村口路灯坏了
        @at 2026-11-24 07:45
        """
    )
    # Both 户里事 go to 张姐; neither is claimed by 23:30, inside the quiet hours.
    quiet = [s for s in bot_stamps(out) if "2026-11-23 21:00" <= s < "2026-11-24 07:30"]
    # …where only the answers to 张大爷's own post (and his matter's notice to its owner) go out.
    assert quiet == ["2026-11-23 22:00", "2026-11-23 22:00"]
    merged = sent(out, "2026-11-24 07:30", "张姐")
    assert len(merged) == 1
    assert "#1" in merged[0] and "#2" in merged[0] and "2条" in merged[0]
    assert len(sent(out, "2026-11-24 07:30", "王哥")) == 1  # his #3, not claimed since 22:00


def test_no_one_gets_the_same_reminder_twice(chat: Chat, make_app: Callable[..., App]) -> None:
    chat.say("李大妈: #邻里事 隔壁的狗天天半夜叫\n@at 2026-11-24 10:00")
    outbox, reminders = count(chat.app, Outbox), count(chat.app, Reminder)
    # A restart (a new scheduler on the same database) and a sweep at the same time…
    Scheduler.for_app(chat.app).sweep()
    # …even after every open issue is marked for a fresh look (as any edit of an issue does).
    with Session(chat.app.engine) as session:
        for i in session.exec(select(Issue)).all():
            session.merge(IssueCheck(issue_id=i.id or 0, next_check_at=i.clock_start))
        session.commit()
    Scheduler.for_app(chat.app).sweep()
    assert (count(chat.app, Outbox), count(chat.app, Reminder)) == (outbox, reminders)


def test_a_reopened_matter_is_chased_afresh(chat: Chat) -> None:
    out = chat.say(
        """
        李大妈: #邻里事 隔壁的狗天天半夜叫
        王哥: 认领 1
        @at 2026-11-24 08:30
        王哥: 办结 1 已经跟狗主人说了
        李书记: 重办 1 还在叫
        @at 2026-11-25 09:00
        """
    )
    reminders = [line for line in out if "→ 王哥 (私聊): 提醒" in line]
    # First cycle: 75 % at Tuesday 03:00 → 07:30. Reopened at 08:30 with a fresh day: 75 % is
    # Wednesday 02:30 → 07:30. Claimed, so no "not claimed" reminder.
    assert [line[:16] for line in reminders] == ["2026-11-24 07:30", "2026-11-25 07:30"]
    overdue = [line[:16] for line in out if "督办" in line and "→ 王哥" in line]
    assert overdue == ["2026-11-25 08:30"]  # the first cycle's due time (Tue 09:00) is gone
    assert issue(chat.app, 1).level == Level.VILLAGE


def test_a_new_due_time_moves_what_is_not_yet_sent(chat: Chat) -> None:
    out = chat.say(
        """
        张大爷: #村里事 村口的桥栏杆断了
        张姐: 认领 1
        张姐: 限期 1 2026-11-24
        @at 2026-11-24 19:00
        """
    )
    # Due Tuesday 18:00 now: 75 % of 33 hours after Monday 09:00 is Tuesday 09:45.
    assert len(sent(out, "2026-11-24 09:45", "张姐")) == 1
    assert "督办" in sent(out, "2026-11-24 18:00", "张姐")[0]


def test_daily_todo_overdue_first(chat: Chat) -> None:
    out = chat.say(
        """
        张大爷: #村里事 村口路灯坏了
        孙奶奶: #户里事 屋顶漏雨了
        @at 2026-11-27 08:30
        """
    )
    todos = [line for line in out if "今日待办" in line and "→ 张姐" in line]
    assert [line[:16] for line in todos] == [f"2026-11-{d} 08:00" for d in (24, 25, 26, 27)]
    friday = todos[-1]
    assert "2件" in friday and friday.index("#2") < friday.index("#1")  # #2 is overdue
    assert "已超期1天" in friday


def test_daily_todo_can_be_switched_off(make_app: Callable[..., App]) -> None:
    chat = Chat(make_app(daily_todo=False))
    out = chat.say("张大爷: #村里事 村口路灯坏了\n@wait 3d")
    assert not any("今日待办" in line for line in out)
    assert any("提醒" in line for line in out)  # the reminders still come
