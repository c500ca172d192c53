"""The WeChat door end to end: the mock gateway, real gRPC, the real core, SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import Session, select

from handlers.outbox import enqueue
from storage.db import session_scope
from storage.models import ChatGroup, GroupChat, Inbound, Issue, Kind, Outbox, Village
from tests.wechat.conftest import (
    BOT_ID,
    ROOM,
    VILLAGER,
    WANGGE,
    ZHANGJIE,
    World,
    until,
)

pytestmark = pytest.mark.asyncio
MENTION_SPACE = "\u2005"
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def in_room(room: str = ROOM) -> Callable[[dict[str, object]], bool]:
    return lambda m: m["roomId"] == room


def private_to(contact: str) -> Callable[[dict[str, object]], bool]:
    return lambda m: m["roomId"] is None and m["contactId"] == contact


async def test_room_post_is_acknowledged_with_a_mention(world: World) -> None:
    start = len(world.sent())
    world.say(
        VILLAGER, f"@说事{MENTION_SPACE}村口路灯坏了好几天了，晚上黑乎乎的", mentionIds=[BOT_ID]
    )
    ack = await world.next_sent(start, in_room())
    assert ack["mentionIds"] == [VILLAGER]
    assert ack["text"].startswith(f"@张大爷{MENTION_SPACE}")
    assert "#1" in ack["text"] and "村里事" in ack["text"]

    [issue] = world.issues()
    assert issue.text == "村口路灯坏了好几天了，晚上黑乎乎的"  # the @bot is gone
    assert (issue.reporter, issue.reporter_name) == (f"wechat:{VILLAGER}", "张大爷")
    assert issue.reporter_chat == f"wechat:{ROOM}"
    # The owner hears of it privately, on WeChat.
    notice = await world.next_sent(start, lambda m: m["roomId"] is None)
    assert notice["contactId"] in (ZHANGJIE, WANGGE) and "#1" in notice["text"]
    # What the bot said came back as events; none of it was taken for a post.
    await until(lambda: world.sent()[start:] and len(world.sent()) - start >= 2)
    world.say(VILLAGER, "谢谢")
    await until(lambda: world.inbound_count() == 2, what="the second post")
    assert world.inbound_count(sender=f"wechat:{BOT_ID}") == 0


async def test_keyword_commands_and_rating_by_number(world: World) -> None:
    start = len(world.sent())
    world.say(VILLAGER, "三组那段水渠塌了，过两天要放水灌溉了")
    await world.next_sent(start, in_room())

    start = len(world.sent())
    world.say(ZHANGJIE, "认领 1")
    claimed = await world.next_sent(start, in_room())
    assert claimed["mentionIds"] == [ZHANGJIE] and "张姐" in claimed["text"]

    start = len(world.sent())
    world.say(ZHANGJIE, "办结 1 已修好")
    result = await world.next_sent(start, lambda m: in_room()(m) and VILLAGER in m["mentionIds"])
    assert "已修好" in result["text"] and "1 / 2 / 3" in result["text"]
    assert result["text"].startswith(f"@张大爷{MENTION_SPACE}")

    start = len(world.sent())
    world.say(VILLAGER, f"「说事：{result['text']}」\n- - - - - - - - - - - - - - -\n1")  # quoting
    thanks = await world.next_sent(start, lambda m: in_room()(m) and "谢谢" in m["text"])
    assert thanks["mentionIds"] == [VILLAGER] and "满意" in thanks["text"]
    [issue] = world.issues()
    assert (issue.status, issue.rating) == ("closed", "满意")


async def test_the_bots_own_messages_are_ignored(world: World) -> None:
    # Someone typing on the bot account's phone is the bot too: not recorded, not answered.
    world.say(BOT_ID, "说事 这条是机器人自己发的")
    world.say(VILLAGER, "大家早上好")
    await until(lambda: world.bot.handled == 1, what="the villager's post")
    assert world.inbound_count() == 1
    assert world.inbound_count(sender=f"wechat:{BOT_ID}") == 0
    assert world.issues() == []


async def test_a_picture_and_a_voice_message_become_unsorted_issues(world: World) -> None:
    start = len(world.sent())
    world.say(VILLAGER, room=ROOM, type="image")
    ack = await world.next_sent(start, in_room())
    assert "图片" in ack["text"] and ack["mentionIds"] == [VILLAGER]
    voice = os.urandom(30_000)  # over 20 KB: the gateway hands it out through Download
    start = len(world.sent())
    world.say("wxid_li", room=ROOM, type="audio", base64=base64.b64encode(voice).decode())
    ack = await world.next_sent(start, in_room())
    assert "语音" in ack["text"]

    photo_issue, voice_issue = world.issues()
    assert photo_issue.kind == voice_issue.kind == Kind.UNSORTED
    [photo] = json.loads(photo_issue.attachments)
    [sound] = json.loads(voice_issue.attachments)
    assert photo["kind"] == "photo" and Path(photo["path"]).read_bytes() == TINY_PNG
    assert sound["kind"] == "voice" and Path(sound["path"]).read_bytes() == voice
    assert Path(photo["path"]).is_relative_to(
        (world.app.settings.data_dir / "attachments").resolve()
    )


async def test_a_private_message_is_answered_privately(world: World) -> None:
    start = len(world.sent())
    world.say(VILLAGER, "说事 我家屋顶漏水了", room=None)
    answer = await world.next_sent(start)
    assert answer["roomId"] is None and answer["contactId"] == VILLAGER
    assert answer["mentionIds"] == [] and "新联村" in answer["text"]  # which village?
    with Session(world.app.engine) as session:
        row = session.exec(select(Inbound)).one()
    assert row.private and row.chat == VILLAGER


async def test_a_room_not_in_the_grid_is_logged_once_and_left_alone(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.wechat")
    world.room("31337@chatroom", "张家亲戚群")
    start = len(world.sent())
    world.say(VILLAGER, "说事 二舅家的狗丢了", room="31337@chatroom")
    world.say(VILLAGER, "有人看见吗", room="31337@chatroom")
    world.say(VILLAGER, "大家早上好")  # in the village room: handled after the two above
    await until(lambda: world.bot.handled == 1, what="the post in the village room")
    assert world.inbound_count() == 1 and world.inbound_count(chat="31337@chatroom") == 0
    assert world.sent()[start:] == []
    logged = [r.getMessage() for r in caplog.records if "31337@chatroom" in r.getMessage()]
    assert len(logged) == 1 and "张家亲戚群" in logged[0] and "wechat:31337@chatroom" in logged[0]
    assert world.bot.status.unknown_rooms == {"31337@chatroom": "张家亲戚群"}
    page = world.app.status["wechat"]  # the admin's 状态 page
    assert page["rooms_not_in_grid"] == "wechat:31337@chatroom（张家亲戚群）"
    assert page["logged_in"] and page["account"] == "说事 (wxid_shuoshi_bot)"


async def test_a_room_named_by_topic_is_bound_on_first_sight(world: World) -> None:
    world.room("55555@chatroom", "石桥村说事群")
    world.room("66666@chatroom", "石桥村说事群")  # same topic, seen later: not bound
    start = len(world.sent())
    world.say(VILLAGER, "说事 桥头的护栏断了", room="55555@chatroom")
    ack = await world.next_sent(start, in_room("55555@chatroom"))
    assert "#1" in ack["text"]
    world.say(VILLAGER, "说事 这边也有护栏断了", room="66666@chatroom")
    world.say(VILLAGER, "早")
    await until(lambda: world.bot.handled == 2, what="the post in the village room")
    with Session(world.app.engine) as session:
        bound = session.exec(
            select(GroupChat).where(GroupChat.chat_key == "wechat:55555@chatroom")
        ).one()
        group = session.get(ChatGroup, bound.group_id)
        assert group is not None and group.name == "石桥村说事群"
        [issue] = session.exec(select(Issue)).all()
        village = session.get(Village, issue.village_id)
        assert village is not None and village.name == "石桥村"
        assert (
            session.exec(
                select(GroupChat).where(GroupChat.chat_key == "wechat:66666@chatroom")
            ).first()
            is None
        )
    assert world.inbound_count(chat="66666@chatroom") == 0
    assert "66666@chatroom" in world.bot.status.unknown_rooms


async def test_answers_waiting_for_one_room_go_out_as_one_message(world: World) -> None:
    # Logged out (the phone was offline, a QR code to scan again), the bot's answers wait;
    # back, those for one room go out together, each part with its @, not as a flood that
    # WeChat's room limit would spread over minutes.
    world.gw.control("POST", "/logout", {})
    await until(lambda: not world.bot.client.status.logged_in, what="LOGOUT")
    waiting = [(VILLAGER, "第一条"), ("wxid_li", "第二条"), (VILLAGER, "第三条")]
    with session_scope(world.app.engine) as session:
        for who, text in waiting:
            enqueue(
                session,
                now=world.app.clock.now(),
                platform="wechat",
                chat=ROOM,
                text=text,
                private=False,
                mention=f"wechat:{who}",
            )
    start = len(world.sent())
    await world.login()
    message = await world.next_sent(start, in_room())
    assert message["mentionIds"] == [VILLAGER, "wxid_li"]
    m = MENTION_SPACE
    assert message["text"] == f"@张大爷{m}第一条\n\n@李婶{m}第二条\n\n@张大爷{m}第三条"

    def sent_rows() -> list[Outbox]:
        with Session(world.app.engine) as session:
            return [r for r in session.exec(select(Outbox)).all() if r.status == "sent"]

    rows = await until(lambda: len(sent_rows()) == 3 and sent_rows(), what="three rows sent")
    assert {row.platform_message_id for row in rows} == {message["messageId"]}


async def test_the_bot_reconnects_after_the_gateway_restarts(world: World) -> None:
    world.say(VILLAGER, "村口路灯坏了好几天了，晚上黑乎乎的")
    await world.next_sent(0, in_room())

    world.gw.restart()  # a new gateway process, same port: the stream breaks, the mock forgets
    await until(lambda: world.bot.client.sessions >= 2, timeout=30, what="a new session")
    assert world.bot.status.reconnects >= 1
    world.setup_people()
    await world.login()
    world.say(VILLAGER, "三组那段水渠塌了，过两天要放水灌溉了")
    ack = await world.next_sent(0, in_room())
    assert "#2" in ack["text"] and ack["mentionIds"] == [VILLAGER]
    assert len(world.issues()) == 2


async def test_triage_card_answered_by_keyword_registers_the_post(world: World) -> None:
    """Issue 15: no buttons on WeChat; the card says what to reply (登记 帖N) and the answer
    registers the post, acknowledged in the room to the villager."""
    from datetime import timedelta

    from handlers.clock import FakeClock
    from scheduler.jobs import Scheduler
    from tests.handlers.test_triage import Unsure

    world.app.deps.classifier = Unsure("村里事")  # type: ignore[assignment]
    start = len(world.sent())
    world.say(VILLAGER, "后山那条小路好像有点不对劲")
    await until(lambda: world.inbound_count(status="unsure") == 1, what="the unsure post")
    clock = world.app.clock
    assert isinstance(clock, FakeClock)
    clock.advance(timedelta(minutes=4))
    Scheduler.for_app(world.app, charts=False).sweep()
    card = await world.next_sent(start, private_to(ZHANGJIE))
    assert "登记 帖1" in card["text"] and "后山" in card["text"]
    assert not [m for m in world.sent()[start:] if m["roomId"] == ROOM]  # silent in the room
    start = len(world.sent())
    world.say(ZHANGJIE, "登记 帖1", room=None)
    ack = await world.next_sent(start, in_room())
    assert ack["mentionIds"] == [VILLAGER] and "#1" in ack["text"] and "后山" in ack["text"]
    assert [i.kind for i in world.issues()] == ["村里事"]
