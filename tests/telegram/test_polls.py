"""议事 on Telegram, end to end against the fake Bot API: the vote goes out as a native poll
(sendPoll), each poll_answer is counted (one per person, the last counts, a retracted answer
drops), and at the deadline the poll is stopped (stopPoll) and the result answers it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import App
from bot.telegram import TelegramDoor
from handlers.clock import FakeClock
from scheduler.jobs import Scheduler
from storage.models import Ballot, Event, Vote
from tests.telegram.conftest import GROUP, NEIGHBOUR, SECRETARY, VILLAGER, ZHANG, count, rows, until
from tests.telegram.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.asyncio
VOTED = {(f"telegram:{VILLAGER}", 0), (f"telegram:{NEIGHBOUR}", 0)}


async def test_a_vote_is_a_native_poll_counted_from_poll_answers_and_stopped_at_the_deadline(
    server: FakeBotApi, door: TelegramDoor, tg_app: App
) -> None:
    server.post_text(GROUP, VILLAGER, "#村里事 村口的路坑坑洼洼，下雨全是泥", first_name="张大爷")
    await server.wait_sent(1, chat_id=GROUP)
    server.post_text(GROUP, SECRETARY, "议事 1 修村口路每户出工两天 同意/不同意/弃权 3天")
    [poll_call] = await server.wait_calls("sendPoll")
    poll = poll_call.response["result"]["poll"]
    assert [o["text"] for o in poll["options"]] == ["同意", "不同意", "弃权"]
    assert "修村口路每户出工两天" in poll["question"] and not poll["is_anonymous"]
    assert poll_call.params["members_only"] and poll_call.params["allows_revoting"]

    server.answer_poll(poll["id"], VILLAGER, [0], first_name="张大爷")
    server.answer_poll(poll["id"], NEIGHBOUR, [1], first_name="李大妈")
    server.answer_poll(poll["id"], NEIGHBOUR, [0], first_name="李大妈")  # the last one counts
    server.answer_poll(poll["id"], ZHANG, [2], first_name="张姐")
    server.answer_poll(poll["id"], ZHANG, [], first_name="张姐")  # taken back
    # The last answer is in once ZHANG's ballot is gone again.
    await until(lambda: {(b.voter, b.choice) for b in rows(tg_app, Ballot)} == VOTED)

    clock = tg_app.clock
    assert isinstance(clock, FakeClock)
    clock.set(clock.now() + timedelta(days=3, minutes=1))
    Scheduler.for_app(tg_app, charts=False).sweep()
    [stop] = await server.wait_calls("stopPoll")
    assert stop.params["message_id"] == poll_call.response["result"]["message_id"]
    assert server.polls[poll["id"]]["is_closed"]
    result = await until(
        lambda: [m for m in server.sent if m.plain_text and "议事结果" in m.plain_text]
    )
    assert "同意：2票" in result[0].plain_text and "共2人投票" in result[0].plain_text
    assert result[0].reply_to_message_id == poll_call.response["result"]["message_id"]
    [vote] = rows(tg_app, Vote)
    assert vote.closed_at is not None
    assert count(tg_app, Event, Event.kind == "vote_result") == 1
    # An answer after the deadline changes nothing.
    server.answer_poll(poll["id"], ZHANG, [1])
    server.post_text(GROUP, VILLAGER, "查询 1")  # handled after the answer before it
    await until(lambda: [m for m in server.sent if "待认领" in (m.plain_text or "")])
    assert {(b.voter, b.choice) for b in rows(tg_app, Ballot)} == VOTED
