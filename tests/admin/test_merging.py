"""拆分 and 合并 on the issue page (issue 15, part 6): a report wrongly linked to a matter becomes
a matter of its own, answered to its reporter with the new number; two issues that are one
matter become one, the timelines kept on both and every reporter told where it is handled."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import Session, col, select

from bot.app import App
from storage.models import Inbound, Outbox
from tests.admin.conftest import (
    Linker,
    events,
    issue,
    last_outbox_id,
    login,
    outbox,
    post_form,
    say,
    sqlite_only,
)
from tests.conftest import Chat

pytestmark = pytest.mark.asyncio


def post_of(app: App, sender: str, text: str) -> Inbound:
    with Session(app.engine) as session:
        return session.exec(
            select(Inbound).where(Inbound.sender == f"local:{sender}", Inbound.text == text)
        ).one()


def linked(app: App, number: int) -> list[str]:
    """Who the posts linked to #number as the same matter came from, oldest first."""
    with Session(app.engine) as session:
        i = issue(app, number)
        rows = session.exec(
            select(Inbound)
            .where(Inbound.issue_id == i.id, Inbound.status == "duplicate")
            .order_by(col(Inbound.id))
        )
        return [r.sender_name for r in rows]


LAMPS = "#村里事 南山小组那边的路灯坏了三盏"
SHOP = "#村里事 北头小卖部门口的路灯也坏了"


@pytest.fixture
def lamps(matters: Chat, linker: Linker) -> Chat:
    """#1 村口路灯 (张大爷, 张姐's) with two more reports linked to it: 王婶's lamps at 南山小组
    and 老周's at the 北头 shop, places of their own (what part 6 of issue 15 found)."""
    linker.links = {"南山": 1, "北头": 1}
    matters.say(f"王婶: {LAMPS}\n老周: {SHOP}")
    linker.links = {}
    return matters


async def test_a_linked_report_is_split_off_and_its_reporter_hears_the_new_number(
    client: httpx.AsyncClient, lamps: Chat, app: App
) -> None:
    assert issue(app, 1).reports == 3 and linked(app, 1) == ["王婶", "老周"]
    await login(client, "李书记")
    page = (await client.get("/issues/1")).text
    assert "又有人反映（2）" in page and "南山小组那边的路灯坏了三盏" in page
    wang = post_of(app, "王婶", LAMPS)
    assert f"/issues/1/split/{wang.id}" in page and page.count(">拆成新事项</button>") == 2

    mark = last_outbox_id(app)
    r = await post_form(client, "/issues/1", f"/issues/1/split/{wang.id}", {})
    assert r.status_code == 303 and r.headers["location"] == "/issues/1"
    page = (await client.get("/issues/1")).text
    assert "已拆成 #4【村里事】" in page and "#1 现共2人反映" in page

    new = issue(app, 4)
    assert (new.kind, new.reporter_name, new.text) == (
        "村里事",
        "王婶",
        "南山小组那边的路灯坏了三盏",
    )
    assert new.reporter_chat == "local:新联村说事群" and new.owner_id is not None
    assert issue(app, 1).reports == 2 and linked(app, 1) == ["老周"]
    told = outbox(app, mark)
    ack = [m for m in told if not m.private]
    assert len(ack) == 1 and ack[0].recipient == "新联村说事群"
    assert ack[0].mention == "local:王婶" and ack[0].reply_to == wang.message_id
    assert "已登记 #4【村里事】" in ack[0].text and "南山" in ack[0].text
    new_owner = [m for m in told if m.private and m.text.startswith("新事项 #4")]
    assert len(new_owner) == 1
    old_owner = [m for m in told if m.private and "拆成了 #4" in m.text]
    assert len(old_owner) == 1 and old_owner[0].recipient == "张姐"
    assert "#1 现共2人反映" in old_owner[0].text

    # Both timelines say it, with each other's number; the report itself stays on #1's.
    assert ("split", "李书记", "王婶的反映另立为 #4") in events(app, 1)
    assert ("report", "王婶", "南山小组那边的路灯坏了三盏") in events(app, 1)
    assert events(app, 4)[-1] == ("split", "李书记", "从 #1 拆出")
    assert "<b>拆分</b> 李书记：王婶的反映另立为 #4" in (await client.get("/issues/1")).text
    assert "<b>拆分</b> 李书记：从 #1 拆出" in (await client.get("/issues/4")).text
    with Session(app.engine) as session:
        row = session.get(Inbound, wang.id)
        assert row is not None and row.status == "matter" and row.issue_id == new.id

    # Splitting it again is refused, nothing changes.
    mark, before = last_outbox_id(app), events(app, 1)
    await post_form(client, "/issues/1", f"/issues/1/split/{wang.id}", {})
    assert "已经拆出或合并过了" in (await client.get("/issues/1")).text
    assert outbox(app, mark) == [] and events(app, 1) == before and issue(app, 1).reports == 2


async def test_who_may_split(client: httpx.AsyncClient, lamps: Chat, app: App) -> None:
    wang = post_of(app, "王婶", LAMPS)
    await login(client, "王哥")  # of the village, but neither #1's owner nor a leader
    page = (await client.get("/issues/1")).text
    assert "南山小组" in page and "拆成新事项" not in page
    await post_form(client, "/issues/1", f"/issues/1/split/{wang.id}", {})
    assert "只有负责人、书记或镇领导能把反映拆出来" in (await client.get("/issues/1")).text
    assert issue(app, 1).reports == 3
    await login(client, "张姐")  # #1's owner
    assert "拆成新事项" in (await client.get("/issues/1")).text
    mark = last_outbox_id(app)
    await post_form(client, "/issues/1", f"/issues/1/split/{wang.id}", {})
    assert issue(app, 1).reports == 2
    # The owner did it herself: no notice about it to her, only the new matter's.
    assert not any("拆成了" in m.text for m in outbox(app, mark))
    await login(client, "赵书记")  # another village: not even the page
    assert (await client.get("/issues/1")).status_code == 404


async def test_a_report_made_privately_is_answered_privately(
    client: httpx.AsyncClient, matters: Chat, linker: Linker, app: App
) -> None:
    await say(matters, "王婶: 大家好")  # seen in 新联村's group
    linker.links = {"水泥": 1}
    await say(matters, "@dm\n王婶: #村里事 我家门口的路灯杆水泥裂开了\n@in 新联村说事群")
    post = post_of(app, "王婶", "#村里事 我家门口的路灯杆水泥裂开了")
    assert post.status == "duplicate" and issue(app, 1).reports == 2
    await login(client, "陈镇长")
    mark = last_outbox_id(app)
    await post_form(client, "/issues/1", f"/issues/1/split/{post.id}", {})
    [ack] = [m for m in outbox(app, mark) if m.recipient == "王婶"]
    assert ack.private and ack.chat == "王婶" and ack.reply_to == post.message_id
    assert "已登记 #4【村里事】" in ack.text and "办好后会告诉您结果" in ack.text
    assert issue(app, 4).reporter_chat is None and issue(app, 4).group_id is None
    assert not any(m.mention == "local:王婶" and not m.private for m in outbox(app, mark))


async def test_two_issues_of_one_matter_are_merged(
    client: httpx.AsyncClient, matters: Chat, linker: Linker, app: App
) -> None:
    # #4 老周's, with 刘婶's report linked to it: the same lamp as #1, registered apart.
    await say(matters, "老周: #村里事 村口那盏灯还是黑的，走夜路害怕")
    linker.links = {"那盏灯": 4}
    await say(matters, "刘婶: #村里事 村口那盏灯到底谁来修")
    assert issue(app, 4).reports == 2 and linked(app, 4) == ["刘婶"]
    zhou = post_of(app, "老周", "#村里事 村口那盏灯还是黑的，走夜路害怕")
    liu = post_of(app, "刘婶", "#村里事 村口那盏灯到底谁来修")

    await login(client, "李书记")
    page = (await client.get("/issues/4")).text
    assert 'action="/issues/4/merge"' in page
    mark = last_outbox_id(app)
    r = await post_form(client, "/issues/4", "/issues/4/merge", {"into": "#1"})
    assert r.status_code == 303
    assert "#4 已并入 #1，#1 现共3人反映" in (await client.get("/issues/4")).text

    merged, target = issue(app, 4), issue(app, 1)
    assert merged.status == "closed" and merged.result == "已并入 #1"
    assert target.status == "open" and target.reports == 3
    assert linked(app, 1) == ["老周", "刘婶"] and linked(app, 4) == []
    # Both timelines kept, each naming the other.
    assert events(app, 4)[-2:] == [
        ("merged", "李书记", "并入 #1"),
        ("closed", "李书记", "已并入 #1"),
    ]
    assert ("report", "刘婶", "村口那盏灯到底谁来修") in events(app, 4)
    kind, actor, detail = events(app, 1)[-1]
    assert (kind, actor) == ("merged", "李书记") and detail.startswith("#4")
    assert "2人反映" in detail
    page4 = (await client.get("/issues/4")).text
    assert "已并入 #1" in page4 and "<b>合并</b> 李书记：并入 #1" in page4
    assert 'action="/issues/4/merge"' not in page4  # closed: nothing more to merge
    page1 = (await client.get("/issues/1")).text
    assert "共3人反映" in page1 and "又有人反映（2）" in page1 and "<b>合并</b> 李书记：#4" in page1

    # Both reporters told in the group, each as a reply to their own post.
    told = outbox(app, mark)
    group = sorted((m for m in told if not m.private), key=lambda m: m.mention or "")
    assert [(m.mention, m.reply_to) for m in group] == sorted(
        [("local:老周", zhou.message_id), ("local:刘婶", liu.message_id)]
    )
    for m in group:
        assert m.recipient == "新联村说事群"
        assert "您反映的 #4 与 #1 是同一件事，已合并到 #1 办理" in m.text
    assert any(m.private and m.recipient == "张姐" and "并入了 #1" in m.text for m in told)

    # The merged issue's reports can be split off the target again, e.g. after a mistake.
    r = await post_form(client, "/issues/1", f"/issues/1/split/{zhou.id}", {})
    assert issue(app, 1).reports == 2 and issue(app, 5).reporter_name == "老周"


async def test_merge_refusals_change_nothing(
    client: httpx.AsyncClient, matters: Chat, linker: Linker, app: App
) -> None:
    await say(matters, "老周: #村里事 村口那盏灯还是黑的\n张姐: 办结 4 已修好")
    await say(matters, "刘婶: #村里事 晒谷场的电线垂下来了")  # #5, open
    before = {n: events(app, n) for n in (1, 2, 3, 4, 5)}
    mark = last_outbox_id(app)

    async def refused(into: str, number: int = 5, who: str = "李书记") -> str:
        await login(client, who)
        await post_form(client, f"/issues/{number}", f"/issues/{number}/merge", {"into": into})
        return (await client.get(f"/issues/{number}")).text

    assert "不能并入它自己" in await refused("5")
    assert "是石桥村的事，不能和别村的事合并" in await refused("3")
    assert "#4 已办结，只能并入还在办的事项" in await refused("4")
    assert "类别不同不能合并" in await refused("2")
    assert "没有 #99 这件事" in await refused("99")
    assert "请写要并入的事项编号" in await refused("灯")
    assert "只有书记和镇领导能合并事项" in await refused("1", who="张姐")
    assert 'action="/issues/5/merge"' not in await refused("1", who="王哥")
    assert "#4 已办结，不能再合并" in await refused("1", number=4)
    assert {n: events(app, n) for n in (1, 2, 3, 4, 5)} == before
    assert outbox(app, mark) == []
    assert issue(app, 5).status == "open" and issue(app, 1).reports == 1
    # A number typed as people do, with ＃ and full-width digits, is read.
    await login(client, "陈镇长")
    await post_form(client, "/issues/5", "/issues/5/merge", {"into": "＃１号"})
    assert issue(app, 5).result == "已并入 #1" and issue(app, 1).reports == 2


@sqlite_only
async def test_a_private_kind_s_reporters_are_told_privately(
    client: httpx.AsyncClient, matters: Chat, linker: Linker, app: App
) -> None:
    await say(matters, "刘婶: #邻里事 隔壁老刘家的狗天天半夜叫")  # #4, like #2
    await login(client, "李书记")
    mark = last_outbox_id(app)
    await post_form(client, "/issues/4", "/issues/4/merge", {"into": "2"})
    assert issue(app, 4).result == "已并入 #2" and issue(app, 2).reports == 2
    told = [m for m in outbox(app, mark) if "已合并到 #2" in m.text]
    assert len(told) == 1 and told[0].private and told[0].chat == "刘婶"
    with Session(app.engine) as session:
        group = session.exec(
            select(Outbox).where(col(Outbox.id) > mark, col(Outbox.private).is_(False))
        ).all()
    assert group == []  # nothing about a dispute in the group
