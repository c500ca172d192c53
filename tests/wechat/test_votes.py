"""议事 by keywords on WeChat, end to end against the mock gateway: the vote's message lists the
choices in the room, posts that are exactly a choice (its words or number) count, one per person
with the last one counting, and at the deadline the result is posted in the room."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from handlers import votes
from handlers.actions import Actor, Ctx
from handlers.clock import FakeClock
from scheduler.jobs import Scheduler
from storage.db import session_scope
from storage.models import Ballot, Issue
from tests.wechat.conftest import ROOM, VILLAGER, WANGGE, ZHANGJIE, World, until

pytestmark = pytest.mark.asyncio


def in_room(m: dict[str, object]) -> bool:
    return m["roomId"] == ROOM


def ballots(world: World) -> set[tuple[str, int]]:
    with Session(world.app.engine) as session:
        return {(b.voter, b.choice) for b in session.exec(select(Ballot))}


async def test_a_vote_by_keywords_in_a_wechat_room(world: World) -> None:
    app = world.app
    start = len(world.sent())
    world.say(VILLAGER, "#村里事 村口的路坑坑洼洼，下雨全是泥")
    await world.next_sent(start, in_room)
    # The 书记 starts it (from the issue page: he has no WeChat account in this grid).
    with session_scope(app.engine) as session:
        issue = session.exec(select(Issue).where(Issue.number == 1)).one()
        ctx = Ctx(session, app.deps, app.clock.now())
        secretary = app.deps.directory.person(session, "local:李书记")
        actor = Actor(key="local:李书记", name="李书记", person=secretary)
        assert votes.start(ctx, issue, actor, "修村口路每户出工两天 同意/不同意/弃权 3天").ok
    start = len(world.sent())
    world.bot._wake_sender()
    listing = await world.next_sent(start, lambda m: in_room(m) and "【议事】" in str(m["text"]))
    assert "1. 同意" in listing["text"] and "修村口路每户出工两天" in listing["text"]

    world.say(VILLAGER, "同意")
    world.say("wxid_li", "2")
    world.say(ZHANGJIE, "不同意")
    world.say(ZHANGJIE, "1")  # the last one counts
    world.say(WANGGE, "同意这个办法，但是工钱要说清楚")  # not a choice: an ordinary post
    expected = {
        (f"wechat:{VILLAGER}", 0),
        ("wechat:wxid_li", 1),
        (f"wechat:{ZHANGJIE}", 0),
    }
    await until(lambda: ballots(world) == expected, what="three ballots")

    clock = app.clock
    assert isinstance(clock, FakeClock)
    clock.set(clock.now() + timedelta(days=3, minutes=1))
    start = len(world.sent())
    Scheduler.for_app(app, charts=False).sweep()
    world.bot._wake_sender()
    result = await world.next_sent(start, lambda m: in_room(m) and "议事结果" in str(m["text"]))
    assert "同意：2票" in result["text"] and "不同意：1票" in result["text"]
    assert "共3人投票" in result["text"]
