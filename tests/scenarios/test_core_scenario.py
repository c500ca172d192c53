"""The group chat from first post to rating, every command and every refusal, on the local
platform through the real pipeline (storage on SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from ports.messages import Incoming
from storage.models import Event, Issue, Status
from tests.conftest import Chat


def issue(chat: Chat, number: int) -> Issue:
    with Session(chat.app.engine) as session:
        return session.exec(select(Issue).where(Issue.number == number)).one()


def events(chat: Chat, number: int) -> list[str]:
    with Session(chat.app.engine) as session:
        i = session.exec(select(Issue).where(Issue.number == number)).one()
        return list(
            session.exec(
                select(Event.kind).where(Event.issue_id == i.id).order_by(col(Event.id))
            ).all()
        )


def test_village_matter_from_post_to_rating(chat: Chat) -> None:
    out = chat.bot_lines("张大爷: 村口路灯坏了好几天了，晚上黑乎乎的")
    group, owner = out
    assert "→ 新联村说事群" in group and "#1" in group and "村里事" in group
    assert "张姐" in group and "11月30日" in group and "路灯" in group
    assert "→ 张姐 (私聊)" in owner and "路灯" in owner and "[认领]" in owner

    assert "已由张姐认领" in chat.bot_lines("张姐 re#1: 认领")[0]
    assert issue(chat, 1).status == Status.CLAIMED
    assert "记下进展" in chat.bot_lines("张姐: 进展 1 已联系电工")[0]
    out = chat.bot_lines("张姐: 办结 1 已换新灯泡")
    told = next(line for line in out if "@张大爷" in line)
    assert "已换新灯泡" in told and "[满意]" in told and "1 / 2 / 3" in told
    assert "谢谢" in chat.bot_lines("张大爷: 满意")[0]
    i = issue(chat, 1)
    assert (i.status, i.rating, i.settled_level) == ("closed", "满意", "group")
    assert events(chat, 1) == ["created", "assigned", "claimed", "note", "closed", "rated"]


def test_chatter_gets_no_answer_but_is_kept(chat: Chat) -> None:
    from storage.models import Inbound as InboxRow

    assert chat.bot_lines("王婶: 收到\n李叔: 早上好[抱拳]\n赵姨: 👍👍") == []
    assert chat.count(InboxRow) == 3 and chat.count(Issue) == 0


def test_private_kinds_show_only_a_stub_and_numbers_are_masked(chat: Chat) -> None:
    out = chat.bot_lines("李大妈: #邻里事 隔壁老刘家的水往我家院子里排，电话13812345678")
    group = next(line for line in out if "新联村说事群" in line)
    private = next(line for line in out if "王哥 (私聊)" in line)
    assert "#1" in group and "邻里事" in group and "王哥" in group and "11月24日" in group
    assert "老刘" not in group and "13812345678" not in group
    assert "老刘家的水" in private
    # 户里事 likewise; and the status command in the group keeps the text back.
    chat.bot_lines("孙奶奶: 【户里事】我一个人住，屋顶漏雨，身份证110101195001011234")
    status = chat.bot_lines("孙奶奶: 查询 2")[0]
    assert "户里事" in status and "屋顶" not in status
    # Group texts never carry a full mobile number, even when a cadre types one.
    out = chat.bot_lines("张姐: 进展 1 已联系老刘 13912345678")
    assert all("13912345678" not in line for line in out if "新联村说事群" in line)


def test_every_command_and_refusal(chat: Chat) -> None:
    chat.say("张大爷: 村口的桥栏杆断了，孩子上学很危险")  # #1 村里事 → 张姐 (fewest open)
    chat.say("老周: #邻里事 邻居把路堵了不让过")  # #2 邻里事 → 王哥

    def say(line: str) -> str:
        out = chat.bot_lines(line)
        return "\n".join(out)

    # Unknown numbers, missing numbers, villagers, other villages.
    assert "没有 #99" in say("张姐: 认领 99")
    # (张姐 has exactly one waiting: 认领 alone claims it, tests/handlers/test_cadre_actions.py)
    assert "编号" in say("李书记: 认领")
    assert "只有网格员和村干部" in say("张大爷: 认领 1")
    assert "新联村" in say("刘叔: 认领 1")  # 刘叔 is a grid member of 石桥村
    assert "没有“/frobnicate”" in say("张姐: /frobnicate 1")
    # claim someone else's claimed issue
    assert "已由王哥认领" in say("王哥: 认领 2")
    assert "已由王哥认领" in say("张姐: 认领 2")
    # close needs a result and the right person
    assert "要写结果" in say("张姐: 办结 1")
    assert "只有负责人" in say("王哥: 办结 1 修好了")
    # note
    assert "请写上进展" in say("张姐: 进展 1")
    # due
    assert "请写上期限" in say("张姐: 限期 1")
    assert "看不懂期限" in say("张姐: 限期 1 下辈子")
    assert "不能早于现在" in say("张姐: 限期 1 2020-01-01")
    assert "12月1日" in say("张姐: 限期 1 2026-12-01")
    # tag
    assert "请写类别" in say("张姐: 改类 1 乱七八糟")
    assert "邻里事" in say("张姐: 改类 1 邻里事")
    assert issue(chat, 1).kind == "邻里事"
    say("张姐: 改类 1 村里事")
    # assign: only 书记 / 镇领导, to a person of the village
    assert "只有书记和镇领导" in say("张姐: 指派 1 王哥")
    assert "没有“路人甲”" in say("李书记: 指派 1 路人甲")
    assert "请写上指派给谁" in say("李书记: 指派 1")
    out = say("李书记: 指派 1 王哥")
    assert "已指派给王哥" in out and "王哥 (私聊)" in out
    assert issue(chat, 1).owner_id is not None
    assert "已指派给张姐" in say("陈镇长: 指派 1 张姐")  # the town leader acts everywhere
    # withdraw: reporter only
    assert "只有反映人" in say("张姐: 撤回 2")
    out = say("老周: 撤回 2")
    assert "已撤回" in out and "王哥 (私聊)" in out
    assert "已撤回" in say("王哥: 办结 2 好了")
    # reopen: only a closed issue
    assert "还在办理中" in say("李书记: 重办 1")
    say("张姐: 办结 1 栏杆已焊好")
    assert "重新办理" in say("李书记: 重办 1 焊得不牢")
    assert issue(chat, 1).status in (Status.OPEN, Status.CLAIMED)
    # status, mine, list, help
    assert "#1" in say("张大爷: 查询 1") and "栏杆" in say("张大爷: 查询 1")
    assert "#1" in say("张姐: 我的")
    assert "#1" in say("张大爷: 我的")  # a villager sees what they reported
    assert "村里事" in say("王哥: 列表") and "#1" in say("王哥: 列表")
    assert "认领" in say("张大爷: 帮助")
    # bind only in private, code required
    assert "私聊" in say("张姐: 绑定 123456")
    assert events(chat, 1).count("assigned") >= 3


def test_reply_to_ack_by_reporter_is_a_note_not_a_new_issue(chat: Chat) -> None:
    chat.say("张大爷: 村里垃圾好几天没人拉了，臭得很")
    out = chat.bot_lines("张大爷 re#1: 对了，就在小卖部后面那个垃圾池")
    assert chat.count(Issue) == 1
    assert any("已补充到 #1" in line for line in out)
    assert any("张姐 (私聊)" in line and "小卖部" in line for line in out)
    assert events(chat, 1)[-1] == "note"


def test_unsatisfied_rating_reopens_and_tells_the_secretary(chat: Chat) -> None:
    chat.say("李大妈: #邻里事 隔壁的狗天天半夜叫，吵得睡不着")
    chat.say("王哥: 认领 1\n王哥: 办结 1 已经跟狗主人说了")
    out = chat.bot_lines("李大妈 [不满意]")
    assert any("李书记 (私聊)" in line and "不满意" in line for line in out)
    assert any("王哥 (私聊)" in line and "重新办理" in line for line in out)
    i = issue(chat, 1)
    assert i.status in (Status.OPEN, Status.CLAIMED) and i.rating is None
    assert i.due_at.astimezone(chat.app.clock.tz).day == 24  # a fresh 1-day limit
    # the wrong person pressing the rating button gets an alert, not a change
    chat.say("王哥: 办结 1 狗已经拴好了")
    handled = chat.runner.deliver(press(chat, "王哥", "rate:1:1"))
    assert handled.alert and "只有 #1 的反映人" in (handled.answer or "")
    assert issue(chat, 1).rating is None


def press(chat: Chat, who: str, data: str) -> Incoming:
    return Incoming(
        platform="local",
        chat=who,
        sender=who,
        sender_name=who,
        text="",
        message_id=f"press-{who}-{data}",
        at=chat.app.clock.now(),
        private=True,
        button=data,
    )


def test_rating_by_number_and_button_by_someone_else(chat: Chat) -> None:
    chat.say("张大爷: 村口路灯坏了\n张姐: 办结 1 已修好")
    assert "满意" in chat.bot_lines("张大爷: 2")[0]
    assert issue(chat, 1).rating == "基本满意"
    # a second rating is refused politely; a later "满意" in the group is just chatter
    handled = chat.runner.deliver(press(chat, "张大爷", "rate:1:1"))
    assert handled.alert and "已经评价过" in (handled.answer or "")
    assert chat.bot_lines("张大爷: 满意") == []
    assert issue(chat, 1).rating == "基本满意"


def test_owner_buttons_claim_and_close_with_the_next_message(chat: Chat) -> None:
    chat.say("@dm")  # no-op in the middle of a chat: later lines are private
    chat.runner.chat = chat.runner._local_chat("新联村说事群")
    chat.say("张大爷: 村头的自来水管爆了，水哗哗地流")
    out = chat.say("张姐 [认领]")
    assert any("已由张姐认领" in line for line in out)
    chat.say("张姐 [办结…]")
    assert issue(chat, 1).status == Status.CLAIMED  # asked for the result, nothing closed yet
    chat.runner.chat = None
    chat.say("张姐: 换了一截新水管")
    i = issue(chat, 1)
    assert i.status == Status.CLOSED and i.result == "换了一截新水管"


def test_voice_only_post_becomes_unsorted_for_the_first_pool_member(chat: Chat) -> None:
    from ports.messages import Attachment, Incoming

    chat.runner.deliver(
        Incoming(
            platform="local",
            chat="新联村说事群",
            sender="张大爷",
            sender_name="张大爷",
            text="",
            message_id="v1",
            at=chat.app.clock.now(),
            attachments=(Attachment("voice", "file-1"),),
        )
    )
    i = issue(chat, 1)
    assert i.kind == "待分类" and "voice" in i.attachments
    chat.say("张姐: 改类 1 户里事")
    assert issue(chat, 1).kind == "户里事"


def test_private_report_goes_to_the_village_last_seen(chat: Chat) -> None:
    chat.say("张大爷: 大家早上好")  # seen in 新联村说事群
    chat.runner.chat = None
    out = chat.bot_lines("张大爷: 我家老伴住院了，想问问大病救助怎么申请")
    assert any("张大爷 (私聊)" in line and "#1" in line for line in out)
    i = issue(chat, 1)
    assert i.group_id is None and i.kind in ("户里事", "村里事")


def test_private_report_from_a_stranger_asks_the_village(chat: Chat) -> None:
    chat.runner.chat = None
    out = chat.bot_lines("路过的: 说事 我们组的水渠塌了一段")
    assert "哪个村" in out[0] and chat.count(Issue) == 0
    assert "没有“火星村”" in chat.bot_lines("路过的: 火星村")[0]
    out = chat.bot_lines("路过的: 石桥村")
    assert any("#1" in line for line in out)
    with Session(chat.app.engine) as session:
        from storage.models import Village

        i = session.exec(select(Issue)).one()
        assert session.get(Village, i.village_id).name == "石桥村"  # type: ignore[union-attr]
