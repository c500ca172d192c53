"""回访 on the simulated clock: a closed 户里事 or 邻里事 reminds its owner after N days (per kind
from the grid file), a 不满意 rating brings the visit forward to the next day, due and done visits
show in the daily to-do and the weekly digest, and `回访 N 情况` records it on the timeline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session, select

from bot.app import App
from ports.settings import DEMO_GRID
from storage.models import Event, Issue, Visit
from tests.conftest import Chat


def _visits(chat: Chat) -> list[Visit]:
    with Session(chat.app.engine) as session:
        return list(session.exec(select(Visit).order_by(Visit.id)))


def _owner_lines(lines: list[str], name: str) -> list[str]:
    return [line for line in lines if f"→ {name} (私聊)" in line]


def test_the_owner_is_reminded_to_visit_n_days_after_closing_and_records_it(chat: Chat) -> None:
    chat.say(
        "@at 2026-11-23 09:00\n"
        "李大妈: #户里事 我家老人一个人住，屋顶漏雨\n"
        "张姐: 认领 1\n"
        "张姐: 办结 1 已帮忙补好屋顶\n"
        "李大妈: 满意"
    )
    early = chat.say("@at 2026-11-30 08:59")  # 7 days after closing is 11月30日 09:00
    assert not any("该回访了" in line for line in early)
    due = chat.say("@at 2026-11-30 09:30")
    [reminder] = [line for line in _owner_lines(due, "张姐") if "该回访了" in line]
    assert "#1" in reminder and "已帮忙补好屋顶" in reminder
    todo = _owner_lines(chat.say("@at 2026-12-01 08:30"), "张姐")
    assert any("待回访（1件）" in line and "#1" in line for line in todo)
    assert any("回访已记下" in line for line in chat.say("张姐: 回访 1 已上门，屋顶不漏了"))
    [visit] = _visits(chat)
    assert visit.done_by == "张姐" and visit.note == "已上门，屋顶不漏了"
    with Session(chat.app.engine) as session:
        issue = session.exec(select(Issue).where(Issue.number == 1)).one()
        kinds = [e.kind for e in session.exec(select(Event).where(Event.issue_id == issue.id))]
    assert "visit" in kinds
    secretary = _owner_lines(chat.say("@at 2026-12-02 08:30"), "李书记")
    assert any("昨天完成回访（1件）" in line and "屋顶不漏了" in line for line in secretary)
    # Recorded: no more to-do for it.
    assert not any(
        "待回访" in line for line in _owner_lines(chat.say("@at 2026-12-03 08:30"), "张姐")
    )


def test_an_unsatisfied_rating_brings_the_visit_forward_to_the_next_day(chat: Chat) -> None:
    chat.say(
        "@at 2026-11-23 09:00\n"
        "李大妈: #邻里事 隔壁老刘家的水往我家院子里排\n"
        "王哥: 认领 1\n"
        "王哥: 办结 1 已调解，双方同意改排水沟\n"
        "李大妈: 不满意"
    )
    lines = _owner_lines(chat.say("@at 2026-11-24 09:30"), "王哥")
    assert any("不满意" in line and "回访" in line and "#1" in line for line in lines)
    [visit] = _visits(chat)
    assert visit.reason == "unsatisfied" and visit.done_at is None


def test_village_matters_get_no_visit_and_others_may_not_record_one(chat: Chat) -> None:
    chat.say(
        "@at 2026-11-23 09:00\n"
        "张大爷: #村里事 村口路灯坏了\n"
        "张姐: 认领 1\n"
        "张姐: 办结 1 已换新灯泡\n"
        "李大妈: #户里事 我家屋顶漏雨\n"
        "张姐: 认领 2"
    )
    assert any("只用于户里事和邻里事" in line for line in chat.say("张姐: 回访 1 看过了"))
    assert any("还没办结" in line for line in chat.say("张姐: 回访 2 看过了"))
    chat.say("张姐: 办结 2 补好了")
    assert any("只有负责人" in line for line in chat.say("王哥: 回访 2 看过了"))
    chat.say("@at 2026-12-01 09:00")
    assert [v.issue_id for v in _visits(chat)] == [2]


def test_the_grid_file_sets_the_days_per_kind(make_app: Callable[..., App], tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(DEMO_GRID.read_text() + '\n[visits]\n邻里事 = "2d"\n', encoding="utf-8")
    chat = Chat(make_app(grid=grid))
    chat.say(
        "@at 2026-11-23 09:00\n"
        "李大妈: #邻里事 隔壁老刘家的水往我家院子里排\n"
        "王哥: 认领 1\n"
        "王哥: 办结 1 已调解"
    )
    lines = _owner_lines(chat.say("@at 2026-11-25 09:30"), "王哥")
    assert any("该回访了" in line and "#1" in line for line in lines)
