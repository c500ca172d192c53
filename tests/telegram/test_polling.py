"""The bot in a Telegram group, end to end: a real PTB bot polling the fake Bot API server,
the real pipeline and storage behind it (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col

from bot.app import App
from bot.telegram import TelegramDoor
from handlers import texts
from handlers.clock import FakeClock
from storage.models import Event, Inbound, Issue, Outbox, Status
from tests.telegram.conftest import (
    BOT_ID,
    GROUP,
    NEIGHBOUR,
    OTHER_GROUP,
    SECRETARY,
    VILLAGER,
    WANG,
    ZHANG,
    count,
    door_running,
    rows,
    until,
)
from tests.telegram.fake_bot_api import FakeBotApi, SentMessage

pytestmark = pytest.mark.asyncio


def issue(app: App, number: int) -> Issue:
    [found] = rows(app, Issue, Issue.number == number)
    return found


def number(sent: SentMessage) -> str:
    """The first #N a message names."""
    found = re.search(r"#\d+", sent.plain_text or "")
    return found.group(0) if found else ""


def data(sent: SentMessage) -> list[str]:
    return [b["callback_data"] for row in sent.buttons for b in row]


async def sent_to(server: FakeBotApi, chat: int, n: int = 1) -> list[SentMessage]:
    return await server.wait_sent(n, chat_id=chat)


async def test_group_post_is_registered_acknowledged_once_even_if_delivered_twice(
    server: FakeBotApi, door: TelegramDoor
) -> None:
    app = door.app
    post = server.post_text(GROUP, VILLAGER, "村口路灯坏了好几天了", first_name="张大爷")
    [ack] = await sent_to(server, GROUP)
    [owner] = await sent_to(server, ZHANG)
    assert "#1" in ack.plain_text and "村里事" in ack.plain_text and "张姐" in ack.plain_text
    assert ack.reply_to_message_id == post["message"]["message_id"]
    # Addressed to the villager by a mention; the text is HTML-escaped.
    assert ack.parse_mode == "HTML"
    assert ack.text.startswith(f'<a href="tg://user?id={VILLAGER}">张大爷</a> ')
    assert data(ack) == ["claim:1"]
    assert "路灯" in owner.plain_text and data(owner) == ["claim:1", "close:1"]
    i = issue(app, 1)
    assert (i.kind, i.reporter, i.reporter_chat) == (
        "村里事",
        f"telegram:{VILLAGER}",
        f"telegram:{GROUP}",
    )
    assert i.reporter_name == "张大爷"
    # The menu in Chinese, for groups and for private chats.
    scopes = {c.scope["type"]: c.commands for c in server.commands if c.scope}
    assert {"all_group_chats", "all_private_chats"} <= set(scopes)
    assert {"command": "claim", "description": "认领：/claim 12"} in scopes["all_group_chats"]
    assert any(c["command"] == "bind" for c in scopes["all_private_chats"])
    assert door.app.status["telegram"]["state"] == "connected"
    assert door.app.status["telegram"]["mode"] == "polling"
    # Privacy mode is on, but the fake makes the bot an admin (it reads everything): no notice.
    assert not any(texts.TG_PRIVACY_MODE[:10] in (s.plain_text or "") for s in server.sent)
    # Telegram sends the same update again: no second issue, no second reply.
    server.queue_update(post)
    server.post_text(GROUP, VILLAGER, "桥栏杆断了很危险")
    await sent_to(server, GROUP, 2)
    await asyncio.sleep(0.1)
    assert [number(a) for a in server.sent if a.chat_id == GROUP] == ["#1", "#2"]
    assert count(app, Issue) == 2 and count(app, Inbound) == 2


async def test_commands_by_slash_by_bot_mention_by_keyword_and_by_reply(
    server: FakeBotApi, door: TelegramDoor
) -> None:
    app = door.app
    for text in ("村口路灯坏了", "桥栏杆断了很危险", "下水道堵了"):
        server.post_text(GROUP, VILLAGER, text)
    acks = await sent_to(server, GROUP, 3)
    server.post_text(GROUP, ZHANG, "/claim 1", first_name="张姐")
    server.post_text(GROUP, ZHANG, "/claim@shuoshi_test_bot 2")
    server.post_text(GROUP, ZHANG, "/claim@some_other_bot 3")  # not for us
    server.post_text(GROUP, ZHANG, "认领", reply_to_message_id=acks[2].message_id)
    answers = (await sent_to(server, GROUP, 6))[3:]
    assert ["已由张姐认领" in a.plain_text for a in answers] == [True] * 3
    assert [number(a) for a in answers] == ["#1", "#2", "#3"]
    assert [issue(app, n).status for n in (1, 2, 3)] == [Status.CLAIMED] * 3
    # A villager may not claim; the refusal says why and nothing changes.
    server.post_text(GROUP, VILLAGER, "认领 1")
    [*_, refusal] = await sent_to(server, GROUP, 7)
    assert "网格员" in refusal.plain_text
    # 办结 by keyword; the reporter rates by replying to the result.
    server.post_text(GROUP, ZHANG, "办结 1 已修好")
    feedback = await server.wait_for(
        lambda: [s for s in server.sent if s.chat_id == GROUP and "已修好" in (s.plain_text or "")]
    )
    server.post_text(GROUP, VILLAGER, "满意", reply_to_message_id=feedback[0].message_id)
    await until(lambda: issue(app, 1).rating == "满意")
    assert issue(app, 1).status == Status.CLOSED
    # Private chat: /start explains the bot and how to bind.
    server.post_text(VILLAGER, VILLAGER, "/start")
    [start] = await sent_to(server, VILLAGER)
    assert "绑定" in start.plain_text and start.parse_mode == "HTML"


async def test_buttons_claim_close_with_result_and_rating(
    server: FakeBotApi, door: TelegramDoor
) -> None:
    app = door.app
    server.post_text(GROUP, VILLAGER, "村口路灯坏了", first_name="张大爷")
    [owner_note] = await sent_to(server, ZHANG)
    # 认领 in the owner's private message: answered, and the message shows the new state.
    server.press_button(ZHANG, ZHANG, owner_note.message_id, "claim:1")
    [edit] = await server.wait_for(lambda: server.edits)
    [answer] = server.callback_answers
    assert "已由张姐认领" in (answer.text or "") and not answer.show_alert
    assert edit.message_id == owner_note.message_id
    assert "路灯" in (edit.text or "") and "【现状】" in (edit.text or "")
    assert "办理中" in (edit.text or "")
    assert [b["callback_data"] for b in edit.reply_markup["inline_keyboard"][0]] == ["close:1"]
    assert issue(app, 1).status == Status.CLAIMED
    # 办结… asks for the result; the next private message is the result.
    server.press_button(ZHANG, ZHANG, owner_note.message_id, "close:1")
    prompts = await sent_to(server, ZHANG, 3)  # notice, claimed, prompt
    assert "办理结果" in prompts[-1].plain_text
    server.post_text(ZHANG, ZHANG, "已换新灯泡")
    await until(lambda: issue(app, 1).status == Status.CLOSED)
    feedback = await server.wait_for(
        lambda: [s for s in server.sent if s.chat_id == GROUP and "rate:1:1" in data(s)]
    )
    [told] = feedback
    assert "已换新灯泡" in told.plain_text and told.text.startswith(
        f'<a href="tg://user?id={VILLAGER}"'
    )
    # Someone else's press: an alert, nothing changes, the message is not edited.
    edits_before = len(server.edits)
    server.press_button(GROUP, NEIGHBOUR, told.message_id, "rate:1:3")
    alert = await server.wait_for(lambda: server.callback_answers[2:])
    assert alert[0].show_alert and "反映人" in (alert[0].text or "")
    assert issue(app, 1).rating is None and len(server.edits) == edits_before
    # The reporter's press rates it; the buttons go.
    server.press_button(GROUP, VILLAGER, told.message_id, "rate:1:1")
    await until(lambda: issue(app, 1).rating == "满意")
    last = await server.wait_for(
        lambda: [e for e in server.edits if e.message_id == told.message_id]
    )
    assert last[-1].reply_markup is None and "已办结" in (last[-1].text or "")
    assert "谢谢" in (server.callback_answers[-1].text or "")
    assert len(server.callback_answers) == 4  # every press answered


async def test_429_storm_delays_but_loses_and_repeats_nothing(
    server: FakeBotApi, door: TelegramDoor
) -> None:
    app = door.app
    clock = app.clock
    assert isinstance(clock, FakeClock)
    server.fail_next("sendMessage", status=429, retry_after=1, times=5)

    async def time_passes() -> None:  # the fake clock follows (fast) so retry_after elapses
        while True:
            await asyncio.sleep(0.05)
            clock.advance(timedelta(seconds=1))
            door.sender.wake()

    ticking = asyncio.create_task(time_passes())
    try:
        for text in ("村口路灯坏了", "桥栏杆断了很危险", "下水道堵了", "垃圾没人清理"):
            server.post_text(GROUP, VILLAGER, text)
        await until(
            lambda: count(app, Outbox) == 8 and count(app, Outbox, Outbox.status == "sent") == 8, 15
        )
    finally:
        ticking.cancel()
    refused = [c for c in server.calls_to("sendMessage") if c.status == 429]
    assert len(refused) == 5
    delivered = [s.plain_text for s in server.sent]
    assert len(delivered) == 8 and len(set(delivered)) == 8  # each once
    assert sorted(number(s) for s in server.sent if s.chat_id == GROUP) == [
        "#1",
        "#2",
        "#3",
        "#4",
    ]


async def test_photo_only_post_becomes_an_unsorted_issue_with_the_file_kept(
    server: FakeBotApi, door: TelegramDoor, tmp_path: Path
) -> None:
    app = door.app
    photo = b"\xff\xd8\xff\xe0 a photo of the broken lamp"
    server.post_photo(GROUP, VILLAGER, photo, first_name="张大爷")
    [ack] = await sent_to(server, GROUP)
    assert "待分类" in ack.plain_text and "图片" in ack.plain_text
    i = issue(app, 1)
    assert i.kind == "待分类" and i.text == ""
    [attachment] = json.loads(i.attachments)
    assert attachment["kind"] == "photo" and attachment["file_id"]
    assert Path(attachment["path"]).read_bytes() == photo
    assert Path(attachment["path"]).parent == tmp_path / "data" / "attachments"
    # A document with a caption, and a voice message: the caption is the text, files kept.
    server.post_document(GROUP, VILLAGER, b"a,b\n", file_name="名单.csv", caption="下水道堵了")
    server.post_voice(GROUP, NEIGHBOUR, b"OggS voice")
    await sent_to(server, GROUP, 3)
    doc, voice = issue(app, 2), issue(app, 3)
    assert doc.text == "下水道堵了" and json.loads(doc.attachments)[0]["kind"] == "document"
    assert Path(json.loads(doc.attachments)[0]["path"]).read_bytes() == b"a,b\n"
    assert voice.kind == "待分类"
    assert Path(json.loads(voice.attachments)[0]["path"]).read_bytes() == b"OggS voice"
    # A location is kept with the message, silently.
    server.post_location(GROUP, VILLAGER, 30.25, 120.17)
    await until(lambda: count(app, Inbound) == 4)
    [located] = rows(app, Inbound, col(Inbound.attachments).contains("location"))
    assert json.loads(located.attachments)[0]["note"] == "30.25,120.17"


async def test_edits_add_a_note_or_update_the_kept_post_never_a_new_issue(
    server: FakeBotApi, door: TelegramDoor
) -> None:
    app = door.app
    post = server.post_text(GROUP, VILLAGER, "村口路灯坏了")
    chatter = server.post_text(GROUP, NEIGHBOUR, "早上好")
    await sent_to(server, GROUP)
    await until(lambda: count(app, Inbound) == 2)
    edit = server.edit_text(
        GROUP, VILLAGER, post["message"]["message_id"], "村口路灯坏了，电线也断了"
    )
    server.edit_text(GROUP, NEIGHBOUR, chatter["message"]["message_id"], "早上好，今天开会")
    [_, note_reply] = await sent_to(server, GROUP, 2)
    assert "已补充到 #1" in note_reply.plain_text
    assert note_reply.reply_to_message_id == post["message"]["message_id"]
    await until(
        lambda: (
            rows(
                app, Inbound, Inbound.sender == f"telegram:{NEIGHBOUR}", Inbound.status == "chatter"
            )[0].text
            == "早上好，今天开会"
        )
    )
    server.queue_update(edit)  # the same edit delivered again
    server.post_text(GROUP, VILLAGER, "桥栏杆断了很危险")
    await sent_to(server, GROUP, 3)
    [i] = rows(app, Issue, Issue.number == 1)
    notes = rows(app, Event, Event.issue_id == i.id, Event.kind == "note")
    assert [n.detail for n in notes] == ["村口路灯坏了，电线也断了"]
    assert count(app, Issue) == 2
    owner_told = [
        s for s in server.sent if s.chat_id == ZHANG and "电线也断了" in (s.plain_text or "")
    ]
    assert len(owner_told) == 1


async def test_what_gets_no_answer_bots_channels_service_messages_unknown_groups(
    server: FakeBotApi, door: TelegramDoor
) -> None:
    app = door.app
    stranger = -1009999
    server.from_bot(GROUP, "村口路灯坏了")
    server.channel_post(-1005550000, "村口路灯坏了")
    server.service_message(GROUP, new_chat_members=[VILLAGER])
    server.service_message(GROUP, SECRETARY, pinned_message_id=1)
    server.service_message(GROUP, new_chat_members=[server.bot_user], user_id=SECRETARY)
    # A group not in the grid: one reply naming its chat id for the operator, then silence.
    server.post_text(stranger, VILLAGER, "村口路灯坏了", chat_title="别的群")
    server.post_text(stranger, VILLAGER, "桥栏杆断了很危险")
    server.post_text(GROUP, VILLAGER, "桥栏杆断了很危险")
    [ack] = await sent_to(server, GROUP)
    [reply] = await sent_to(server, stranger)
    await sent_to(server, ZHANG)
    await asyncio.sleep(0.1)
    assert "#1" in ack.plain_text and f"telegram:{stranger}" in reply.plain_text
    assert count(app, Inbound) == 3 and count(app, Issue) == 1
    assert len(server.sent) == 3  # the acknowledgment, the owner's notice, the one reply


async def test_privacy_mode_is_announced_once_per_group(server: FakeBotApi, tg_app: App) -> None:
    server.set_member(GROUP, BOT_ID, "member")  # privacy mode on and not an admin
    joined = {
        "chat": server.chat(OTHER_GROUP, "supergroup", title="石桥村说事群"),
        "from": server.user(SECRETARY),
        "date": 1,
        "old_chat_member": {"status": "left", "user": server.bot_user},
        "new_chat_member": {"status": "member", "user": server.bot_user},
    }
    async with door_running(tg_app) as door:
        assert not door.reads_all
        server.queue_update({"my_chat_member": joined})  # the bot added to a group
        server.post_text(GROUP, SECRETARY, "/status 1")
        server.post_text(GROUP, WANG, "/mine")
        replies = await sent_to(server, GROUP, 3)
        [other] = await sent_to(server, OTHER_GROUP)
        await asyncio.sleep(0.1)
    notices = [s for s in server.sent if "BotFather" in (s.plain_text or "")]
    assert sorted(s.chat_id for s in notices) == sorted([GROUP, OTHER_GROUP])
    assert len([s for s in server.sent if s.chat_id == GROUP]) == 3 == len(replies)
    assert other in notices
    # Announced once ever, not once per start.
    async with door_running(tg_app):
        server.post_text(GROUP, SECRETARY, "/mine")
        await sent_to(server, GROUP, 4)
        await asyncio.sleep(0.1)
    assert len([s for s in server.sent if "BotFather" in (s.plain_text or "")]) == 2


async def test_a_burst_of_posts_is_decided_together_in_order(
    server: FakeBotApi, tg_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Posts waiting when the bot polls come in one getUpdates answer and are decided in one
    transaction: each still gets its own number and acknowledgment, in order, and a redelivered
    post among them, a bot's message and a button press between them change nothing."""
    first = server.post_text(GROUP, VILLAGER, "村口路灯坏了好几天了", first_name="张大爷")
    server.post_text(GROUP, NEIGHBOUR, "三组水渠塌了，马上要放水了", first_name="李婶")
    server.queue_update(first)  # Telegram sends it again
    server.post_text(GROUP, VILLAGER, "收到")  # chatter: kept, no answer
    for n in range(3, 12):  # more than one burst's worth
        server.post_text(GROUP, VILLAGER, f"{n}组的桥栏杆断了很危险", first_name="张大爷")
    import bot.telegram

    sizes: list[int] = []
    together = bot.telegram.receive_many

    def spy(engine: object, deps: object, msgs: list[object]) -> object:
        sizes.append(len(msgs))
        return together(engine, deps, msgs)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.telegram, "receive_many", spy)
    async with door_running(tg_app):
        acks = await sent_to(server, GROUP, 11)
        await asyncio.sleep(0.1)
    assert sizes and max(sizes) == bot.telegram.BURST  # decided together, a burst at a time
    assert [number(a) for a in acks] == [f"#{n}" for n in range(1, 12)]
    assert "路灯" in acks[0].plain_text and "水渠" in acks[1].plain_text
    assert count(tg_app, Issue) == 11 and count(tg_app, Inbound) == 12
    assert len([s for s in server.sent if s.chat_id == GROUP]) == 11
