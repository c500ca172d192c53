"""回访 as the owner reads it: a 不满意 brings the visit to the next day, and the reminder that
arrives that day asks for the visit that day (not "tomorrow", a day later again)."""

from __future__ import annotations

from tests.conftest import Chat


def test_the_unsatisfied_visit_reminder_asks_for_today(chat: Chat) -> None:
    chat.say("@at 2026-11-23 09:00\n张大爷: #邻里事 隔壁老刘家的水往我家院子里排")
    chat.say("@dm\n王哥: 办结 1 已调解，老刘改了排水管\n@dm\n张大爷: 不满意")
    lines = chat.say("@at 2026-11-24 10:00")
    (reminder,) = [line for line in lines if "不满意" in line and "回访 1" in line]
    assert reminder.startswith("2026-11-24") and "王哥 (私聊)" in reminder
    assert "明天" not in reminder and "今天" in reminder
