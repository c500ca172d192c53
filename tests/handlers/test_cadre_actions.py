"""Cadres' actions in the chat (issue 17): 重办 is told to the villager, the old result is gone
and the rating buttons work again after the next close; the previous owner of a reassigned
matter is told; 认领 without a number claims the one matter waiting for that cadre."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import Issue
from tests.conftest import Chat

LAMP = "张大爷: 村口路灯坏了好几天了，晚上黑乎乎的"


def issue(chat: Chat, number: int) -> Issue:
    with Session(chat.app.engine) as session:
        return session.exec(select(Issue).where(Issue.number == number)).one()


def test_reopen_tells_the_villager_and_asks_for_a_new_rating(chat: Chat) -> None:
    chat.say(LAMP + "\n张姐: 办结 1 已换新灯泡")
    told = chat.bot_lines("李书记: 重办 1 灯又不亮了")
    to_group = [line for line in told if "→ 新联村说事群: @张大爷" in line]
    assert to_group and "#1 重新办理" in to_group[0] and "灯又不亮了" in to_group[0]
    assert "评价" in to_group[0]  # they will be asked again once it is done

    status = chat.bot_lines("张大爷: 查询 1")[0]
    assert "待认领" in status and "已换新灯泡" not in status  # the old result is history
    assert issue(chat, 1).result is None

    # The rating buttons of the first close: not "already rated" (nobody rated).
    pressed = chat.bot_lines("张大爷 [满意]")[0]
    assert "已经评价过" not in pressed and "重新办理" in pressed
    assert issue(chat, 1).rating is None

    closed = chat.bot_lines("张姐: 办结 1 换了整条线路")
    ask = [line for line in closed if "@张大爷" in line]
    assert ask and "换了整条线路" in ask[0] and "[满意]" in ask[0]
    thanks = chat.bot_lines("张大爷 [满意]")[0]
    assert "谢谢" in thanks and issue(chat, 1).rating == "满意"


def test_reopen_of_a_private_matter_is_told_privately(chat: Chat) -> None:
    chat.say("李大妈: #邻里事 隔壁老刘家的水往我家院子里排\n王哥: 办结 1 已调解")
    told = chat.bot_lines("李书记: 重办 1")
    private = [line for line in told if "→ 李大妈 (私聊)" in line]
    assert private and "#1" in private[0] and "重新办理" in private[0]
    assert not any("→ 新联村说事群: @李大妈" in line for line in told)


def test_the_previous_owner_hears_of_a_reassignment(chat: Chat) -> None:
    chat.say(LAMP + "\n张姐: 认领 1")
    told = chat.bot_lines("李书记: 指派 1 王哥")
    to_old = [line for line in told if "→ 张姐 (私聊)" in line]
    assert to_old and "#1" in to_old[0] and "王哥" in to_old[0] and "不用再办" in to_old[0]
    assert any("→ 王哥 (私聊)" in line for line in told)
    # Assigning it to the same person again tells nobody it was taken away.
    again = chat.bot_lines("李书记: 指派 1 王哥")
    assert not any("不用再办" in line for line in again)


def test_claim_without_a_number(chat: Chat) -> None:
    chat.say(LAMP)
    reply = chat.bot_lines("张姐: 认领")
    assert any("#1 已由张姐认领" in line for line in reply)
    assert issue(chat, 1).status == "claimed"

    chat.say(
        "老周: 村东头水沟堵了，下雨就淹路\n王婶: 村西头的垃圾好几天没人收了\n"
        "李书记: 指派 2 张姐\n李书记: 指派 3 张姐"
    )
    reply = chat.bot_lines("张姐: 认领")
    assert len(reply) == 1 and "#2" in reply[0] and "#3" in reply[0] and "请写编号" in reply[0]
    assert issue(chat, 2).status == "open" and issue(chat, 3).status == "open"

    # Someone with nothing waiting for them is asked for the number, as before.
    assert "请写上事项编号" in chat.bot_lines("王哥: 认领")[0]
