"""handlers/merging.py on its own: who may split and merge, what each reporter hears and where,
and what privacy keeps out of the group (the admin's pages are tested in tests/admin)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlmodel import Session, col, select

from bot.app import App
from handlers import actions, merging
from handlers.actions import Actor, Ctx, Outcome
from storage.models import Event, Inbound, Issue, Outbox, Person
from tests.admin.conftest import Linker
from tests.conftest import Chat


@pytest.fixture
def linker(app: App) -> Linker:
    found = Linker(app.deps.duplicates)
    app.deps.duplicates = found
    return found


@contextmanager
def acting(app: App, name: str) -> Iterator[tuple[Ctx, Actor]]:
    """A transaction as `name` (a grid person, or a villager when not in the grid)."""
    with Session(app.engine) as session:
        person = session.exec(select(Person).where(Person.name == name)).first()
        yield Ctx(session, app.deps, app.clock.now()), Actor(f"local:{name}", name, person)
        session.commit()


def split(app: App, name: str, number: int, post_id: int) -> Outcome:
    with acting(app, name) as (ctx, actor):
        issue = ctx.session.exec(select(Issue).where(Issue.number == number)).one()
        outcome = merging.split_report(ctx, issue, post_id, actor)
        if not outcome.ok:
            ctx.session.rollback()
        return outcome


def merge(app: App, name: str, number: int, into: int) -> Outcome:
    with acting(app, name) as (ctx, actor):
        issue = ctx.session.exec(select(Issue).where(Issue.number == number)).one()
        outcome = merging.merge_issues(ctx, issue, into, actor)
        if not outcome.ok:
            ctx.session.rollback()
        return outcome


def get(app: App, number: int) -> Issue:
    with Session(app.engine) as session:
        return session.exec(select(Issue).where(Issue.number == number)).one()


def post_id(app: App, sender: str, text: str) -> int:
    with Session(app.engine) as session:
        row = session.exec(
            select(Inbound).where(Inbound.sender == f"local:{sender}", Inbound.text == text)
        ).one()
        return row.id or 0


def sent_after(app: App, mark: int) -> list[Outbox]:
    with Session(app.engine) as session:
        return list(session.exec(select(Outbox).where(col(Outbox.id) > mark)))


def last_id(app: App) -> int:
    with Session(app.engine) as session:
        ids = session.exec(select(Outbox.id).order_by(col(Outbox.id).desc())).first()
        return ids or 0


def event_count(app: App) -> int:
    with Session(app.engine) as session:
        return len(session.exec(select(Event)).all())


def test_split_refusals_change_nothing(chat: Chat, app: App, linker: Linker) -> None:
    chat.say("张大爷: #村里事 村口路灯坏了\n@in 石桥村说事群\n老赵: #村里事 石桥村的水渠堵了")
    linker.links = {"南山": 1, "水渠": 2}
    chat.say("@in 新联村说事群\n王婶: #村里事 南山组的路灯也坏了")
    chat.say("@in 石桥村说事群\n老钱: #村里事 水渠那边又堵了\n@in 新联村说事群")
    own = post_id(app, "张大爷", "#村里事 村口路灯坏了")  # the post that registered #1
    wang = post_id(app, "王婶", "#村里事 南山组的路灯也坏了")
    qian = post_id(app, "老钱", "#村里事 水渠那边又堵了")
    mark, before = last_id(app), event_count(app)

    assert "只有网格员和村干部能拆分事项" in split(app, "张大爷", 1, wang).text
    assert "是新联村的事，不归您管" in split(app, "赵书记", 1, wang).text
    assert "只有负责人、书记或镇领导能把反映拆出来" in split(app, "王哥", 1, wang).text
    assert "不在 #1 名下" in split(app, "李书记", 1, own).text  # #1's own post
    assert "不在 #1 名下" in split(app, "李书记", 1, qian).text  # another issue's report
    assert "不在 #1 名下" in split(app, "李书记", 1, 10**6).text
    assert sent_after(app, mark) == [] and event_count(app) == before
    assert get(app, 1).reports == 2 and get(app, 2).reports == 2


def test_a_split_keeps_the_privacy_of_an_unsure_kind(chat: Chat, app: App, linker: Linker) -> None:
    """#1 is a 村里事 the group sees only as a stub (the bot was unsure it is not a household's
    matter): the issue split off it is held back the same way."""
    chat.say("张大爷: #村里事 我家旁边的路灯坏了")
    with Session(app.engine) as session:
        first = session.exec(select(Issue)).one()
        first.group_stub = True
        session.add(first)
        session.commit()
    linker.links = {"借钱": 1}
    chat.say("王婶: #村里事 我家借钱修路灯的事")
    mark = last_id(app)
    outcome = split(app, "李书记", 1, post_id(app, "王婶", "#村里事 我家借钱修路灯的事"))
    assert outcome.ok, outcome.text
    new = get(app, 2)
    assert new.group_stub and new.kind == "村里事"
    [ack] = [m for m in sent_after(app, mark) if not m.private]
    assert "#2" in ack.text and "借钱" not in ack.text  # the stub: number, kind, owner


def test_a_closed_issue_s_report_can_still_be_split(chat: Chat, app: App, linker: Linker) -> None:
    chat.say("张大爷: #村里事 村口路灯坏了")
    linker.links = {"北头": 1}
    chat.say("老周: #村里事 北头小卖部门口的路灯也坏了\n张姐: 办结 1 已换新灯泡")
    assert get(app, 1).status == "closed"
    outcome = split(app, "张姐", 1, post_id(app, "老周", "#村里事 北头小卖部门口的路灯也坏了"))
    assert outcome.ok and "#2" in outcome.text
    assert get(app, 2).status == "open" and get(app, 1).reports == 1


def test_merge_tells_each_reporter_once_where_they_said_it(
    chat: Chat, app: App, linker: Linker
) -> None:
    chat.say("张大爷: #村里事 村口路灯坏了\n老周: #村里事 村口那盏灯还是黑的")  # #1, #2
    chat.say("王婶: 大家好")  # seen in the group: her private report is 新联村's
    linker.links = {"黑": 2}
    chat.say("刘婶: #村里事 天黑了村口那盏灯也不亮\n刘婶: #村里事 天黑了灯还是不亮")
    chat.say("@dm\n王婶: #村里事 村口黑乎乎的，灯坏了\n@in 新联村说事群")
    assert get(app, 2).reports == 4
    mark = last_id(app)
    outcome = merge(app, "李书记", 2, 1)
    assert outcome.ok and "#1 现共5人反映" in outcome.text
    told = [m for m in sent_after(app, mark) if "已合并到 #1 办理" in m.text]
    where = sorted((m.recipient, m.private, m.mention) for m in told)
    assert where == [
        ("新联村说事群", False, "local:刘婶"),
        ("新联村说事群", False, "local:老周"),
        ("王婶", True, None),  # reported privately: answered privately
    ]
    assert all("您反映的 #2 与 #1 是同一件事" in m.text for m in told)
    assert all(m.issue_id == get(app, 1).id for m in told)  # a reply to it is about #1


def test_merge_of_an_issue_without_a_post_tells_its_reporter_in_its_group(
    chat: Chat, app: App, linker: Linker
) -> None:
    chat.say("张大爷: #村里事 村口路灯坏了")
    with acting(app, "李书记") as (ctx, _):
        village_id = get(app, 1).village_id
        actions.create_issue(  # as the API or an import would: no post in the inbox
            ctx,
            village_id=village_id,
            group_id=get(app, 1).group_id,
            kind="村里事",
            text="村口的灯不亮",
            reporter_key="local:老周",
            reporter_name="老周",
            reporter_chat="local:新联村说事群",
        )
    mark = last_id(app)
    assert merge(app, "陈镇长", 2, 1).ok
    [told] = [m for m in sent_after(app, mark) if "已合并到 #1" in m.text]
    assert told.recipient == "新联村说事群" and told.mention == "local:老周"


def test_owners_hear_of_a_merge_unless_they_made_it(chat: Chat, app: App, linker: Linker) -> None:
    chat.say("张大爷: #村里事 村口路灯坏了\n李大妈: #邻里事 老刘家的水排到我家")  # 张姐, 王哥
    chat.say("老周: #村里事 村口那盏灯还是黑的\n李书记: 指派 3 王哥")
    owners = {n: get(app, n).owner_id for n in (1, 3)}
    assert owners[1] != owners[3]
    mark = last_id(app)
    assert merge(app, "李书记", 3, 1).ok
    notices = {m.recipient: m.text for m in sent_after(app, mark) if m.private}
    assert "把 #3（村口那盏灯还是黑的）并入了 #1" in notices["张姐"]
    assert "#3 不用再单独办" in notices["王哥"]
    assert get(app, 3).settled_level is None  # closed into another, settled nowhere


def test_a_reply_of_3_after_a_merge_does_not_reopen_the_merged_issue(chat: Chat) -> None:
    """The merged issue is closed as 已并入: a bare 3 (不满意) from its reporter rates nothing."""
    chat.say("张大爷: 说事 村口路灯坏了\n王婶: 说事 祠堂边上的水管漏了")
    assert merge(chat.app, "李书记", 2, 1).ok
    chat.say("王婶: 3")
    merged = get(chat.app, 2)
    assert merged.status == "closed" and merged.rating is None
