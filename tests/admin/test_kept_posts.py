"""未登记帖子 (issue 15, part 4): besides the posts the bot was unsure of (拿不准), the posts it
took for chatter are listed under 闲聊, newest first, and a cadre can register one as a matter.
A post sent to the bot privately is read there only by the village's 书记 and the 镇领导."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session, col, select

from bot.app import App
from storage.models import ChatGroup, Inbound, Seen
from tests.admin.conftest import (
    events,
    issue,
    last_outbox_id,
    login,
    outbox,
    post_form,
    sqlite_only,
)

pytestmark = pytest.mark.asyncio


def keep(
    app: App,
    sender: str,
    text: str,
    *,
    status: str = "chatter",
    chat: str = "新联村说事群",
    private: bool = False,
    minutes_ago: int = 0,
) -> int:
    """A post the bot kept without registering it, as intake leaves it."""
    with Session(app.engine) as session:
        row = Inbound(
            platform="local",
            chat=sender if private else chat,
            message_id=f"m-{sender}-{minutes_ago}-{status}",
            private=private,
            sender=f"local:{sender}",
            sender_name=sender,
            text=text,
            received_at=app.clock.now() - timedelta(minutes=minutes_ago),
            status=status,
            label="非事项" if status == "chatter" else "村里事",
        )
        session.add(row)
        session.commit()
        return row.id or 0


def seen_in_group(app: App, sender: str, group: str = "新联村说事群") -> None:
    with Session(app.engine) as session:
        g = session.exec(select(ChatGroup).where(ChatGroup.name == group)).one()
        session.add(Seen(sender=f"local:{sender}", group_id=g.id or 0, at=app.clock.now()))
        session.commit()


def status_of(app: App, post_id: int) -> str:
    with Session(app.engine) as session:
        row = session.get(Inbound, post_id)
        assert row is not None
        return row.status


async def test_chatter_is_listed_under_its_own_filter_and_can_be_registered(
    client: httpx.AsyncClient, app: App
) -> None:
    pole = keep(app, "王婶", "三组有根电线杆歪了，怕倒下来", minutes_ago=5)
    keep(app, "老周", "今天天气不错，下午去赶集", minutes_ago=30)
    keep(app, "刘婶", "我家的事不知道算不算", status="unsure", minutes_ago=1)
    keep(app, "老赵", "石桥村今天开大会", chat="石桥村说事群", minutes_ago=2)
    keep(app, "小孩", "", minutes_ago=3)  # a sticker: nothing to register
    await login(client, "李书记")

    unsure = (await client.get("/posts")).text  # the default: what the bot was unsure of
    assert "不知道算不算" in unsure and "电线杆" not in unsure and "/dismiss" in unsure
    assert 'aria-current="page">拿不准' in unsure and "共 1 条" in unsure
    chatter = (await client.get("/posts?status=chatter")).text
    assert 'aria-current="page">闲聊' in chatter and "共 2 条" in chatter
    assert "电线杆" in chatter and "天气不错" in chatter and "不知道算不算" not in chatter
    assert chatter.index("电线杆") < chatter.index("天气不错")  # newest first
    assert "石桥村今天开大会" not in chatter  # another village's
    assert "/dismiss" not in chatter and chatter.count(">登记</button>") == 2

    page1 = (await client.get("/posts?status=chatter&per_page=1")).text
    assert "第 1 / 2 页" in page1 and "电线杆" in page1 and "天气不错" not in page1
    assert "status=chatter" in page1 and "page=2" in page1
    page2 = (await client.get("/posts?status=chatter&per_page=1&page=2")).text
    assert "天气不错" in page2 and "电线杆" not in page2

    mark = last_outbox_id(app)
    r = await post_form(
        client,
        "/posts?status=chatter",
        f"/posts/{pole}/register",
        {"kind": "村里事", "back": "chatter"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/posts?status=chatter"
    after = (await client.get("/posts?status=chatter")).text
    assert "已登记为 #1【村里事】" in after and "电线杆" not in after and "共 1 条" in after
    assert status_of(app, pole) == "registered"
    i = issue(app, 1)
    assert (i.kind, i.reporter_name, i.text) == ("村里事", "王婶", "三组有根电线杆歪了，怕倒下来")
    assert [k for k, _, _ in events(app, 1)][-1] == "registered"
    told = outbox(app, mark)
    [ack] = [m for m in told if not m.private]
    assert ack.recipient == "新联村说事群" and ack.mention == "local:王婶"
    assert ack.reply_to == "m-王婶-5-chatter" and "已登记 #1" in ack.text
    assert any(m.private and m.text.startswith("新事项 #1") for m in told)  # the owner told
    # Not a matter is no choice here (it is chatter already), and a direct try is refused.
    other = keep(app, "李四", "下雨了收衣服", minutes_ago=40)
    await post_form(client, "/posts?status=chatter", f"/posts/{other}/dismiss", {})
    assert "处理过了" in (await client.get("/posts")).text
    assert status_of(app, other) == "chatter"


async def test_a_private_post_is_read_only_by_the_secretary_and_the_town(
    client: httpx.AsyncClient, app: App
) -> None:
    seen_in_group(app, "王婶")
    secret = "我儿子在外面欠了钱，电话13812345678，想问问怎么办"
    private = keep(app, "王婶", secret, private=True, minutes_ago=3)
    keep(app, "老周", "路口的水沟堵了，谁来看看", minutes_ago=4)
    unsure = keep(app, "刘婶", "我娘一个人在家没人照看", status="unsure", private=True)
    seen_in_group(app, "刘婶")

    await login(client, "张姐")  # 网格员 of 新联村: who and when, not what
    for path in ("/posts?status=chatter", "/posts"):
        page = (await client.get(path)).text
        assert "私聊内容" in page and "欠了钱" not in page and "没人照看" not in page
    page = (await client.get("/posts?status=chatter")).text
    assert "王婶" in page and "路口的水沟堵了" in page  # a group post: read as before
    assert f"/posts/{private}/register" not in page and "由本村书记或镇领导处理" in page
    await post_form(
        client, "/posts?status=chatter", f"/posts/{private}/register", {"kind": "户里事"}
    )
    assert "私聊的帖子只有本村书记和镇领导能处理" in (await client.get("/posts")).text
    await post_form(client, "/posts", f"/posts/{unsure}/dismiss", {})
    assert "私聊的帖子只有本村书记和镇领导能处理" in (await client.get("/posts")).text
    assert status_of(app, private) == "chatter" and status_of(app, unsure) == "unsure"

    await login(client, "赵书记")  # 石桥村's 书记: not even listed
    assert "王婶" not in (await client.get("/posts?status=chatter")).text

    for name in ("李书记", "陈镇长"):
        await login(client, name)
        page = (await client.get("/posts?status=chatter")).text
        assert "欠了钱" in page and "138****5678" in page and "13812345678" not in page
        assert f"/posts/{private}/register" in page
    mark = last_outbox_id(app)
    await post_form(
        client, "/posts?status=chatter", f"/posts/{private}/register", {"kind": "户里事"}
    )
    assert "已登记为 #1【户里事】" in (await client.get("/posts")).text
    [ack] = [m for m in outbox(app, mark) if m.recipient == "王婶"]
    assert ack.private and "#1" in ack.text  # answered privately, where it was said
    assert not any(not m.private for m in outbox(app, mark))


@sqlite_only
async def test_the_filter_reads_any_value_and_keeps_to_the_two_lists(
    client: httpx.AsyncClient, app: App
) -> None:
    keep(app, "刘婶", "我家的事不知道算不算", status="unsure")
    keep(app, "老周", "今天天气不错")
    with Session(app.engine) as session:
        session.add(
            Inbound(
                platform="local",
                chat="新联村说事群",
                message_id="done",
                sender="local:张大爷",
                sender_name="张大爷",
                text="已经登记过的帖子",
                received_at=app.clock.now(),
                status="matter",
            )
        )
        session.commit()
    await login(client, "陈镇长")
    for value in ("matter", "duplicate", "x' OR 1=1", ""):
        page = await client.get("/posts", params={"status": value})
        assert page.status_code == 200
        assert "不知道算不算" in page.text and "登记过的帖子" not in page.text
    with Session(app.engine) as session:
        kept = session.exec(select(Inbound).where(col(Inbound.status) == "chatter")).all()
    assert len(kept) == 1
