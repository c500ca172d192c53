"""Five people reporting one dark street light make one issue; near misses stay apart."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col, select

from classifier.duplicates import RECHECK, TextDuplicates, same_matter
from storage.models import Event, Issue
from tests.conftest import Chat


def issues(chat: Chat) -> list[Issue]:
    with Session(chat.app.engine) as session:
        return list(session.exec(select(Issue).order_by(col(Issue.number))).all())


def test_same_light_is_linked_and_counted(chat: Chat) -> None:
    first = chat.bot_lines("张大爷: 村口路灯不亮了，晚上黑乎乎的")
    assert any("#1" in line for line in first)
    out = chat.bot_lines("李婶: 村口的路灯坏了，晚上出门黑漆漆的")
    assert any("已有 #1 登记此事，已记下您的反映（共2人反映）" in line for line in out)
    assert any("张姐 (私聊)" in line and "共2人反映" in line for line in out)
    out = chat.bot_lines("王叔: 村口那个路灯还是不亮，黑得很")
    assert any("共3人反映" in line for line in out)
    [one] = issues(chat)
    assert one.reports == 3
    with Session(chat.app.engine) as session:
        kinds = session.exec(select(Event.kind).where(Event.issue_id == one.id)).all()
    assert list(kinds).count("report") == 2


def test_near_misses_get_their_own_issue(chat: Chat) -> None:
    chat.say("张大爷: 村口路灯不亮了，晚上黑乎乎的")
    chat.say("李婶: 学校门口的路灯不亮了，娃放学看不见路")  # another light
    chat.say("王叔: 三组停水了，一滴水都没有")
    chat.say("赵姨: 五组也停水了，龙头拧开没水")  # another group
    assert [i.reports for i in issues(chat)] == [1, 1, 1, 1]


def test_old_or_closed_issues_are_not_linked(chat: Chat) -> None:
    chat.say("张大爷: 村口路灯不亮了，晚上黑乎乎的")
    chat.say("@wait 15d")
    chat.say("李婶: 村口的路灯又不亮了，晚上黑漆漆的")
    assert len(issues(chat)) == 2


def test_issues_registered_before_topics_are_still_linked(chat: Chat) -> None:
    """Migration 0007 leaves older issues without a topic: after the upgrade (a new process,
    a new finder) a new report still finds them."""
    chat.say("张大爷: 村口路灯不亮了，晚上黑乎乎的")
    [old] = issues(chat)
    assert old.topic == "灯"
    with Session(chat.app.engine) as session:
        session.execute(update(Issue).values(topic=None))
        session.commit()
    classifier = chat.app.deps.classifier
    chat.app.deps.duplicates = TextDuplicates.for_classifier(
        getattr(classifier, "local", classifier)
    )
    out = chat.bot_lines("李婶: 村口的路灯坏了，晚上出门黑漆漆的")
    assert any("共2人反映" in line for line in out)
    assert len(issues(chat)) == 1


def test_untopiced_issues_are_looked_for_again_while_the_bot_runs(chat: Chat) -> None:
    """An issue without a topic that appears while the finder runs (another instance without
    a finder) is found once the finder looks again, within `RECHECK`."""
    chat.say("张大爷: 村口路灯不亮了，晚上黑乎乎的")
    with Session(chat.app.engine) as session:
        session.execute(update(Issue).values(topic=None))
        session.commit()
    chat.say(f"@wait {int(RECHECK) // 60 + 1}m")
    out = chat.bot_lines("李婶: 村口的路灯坏了，晚上出门黑漆漆的")
    assert any("共2人反映" in line for line in out)


def test_a_report_of_another_thing_is_not_compared(chat: Chat) -> None:
    chat.say("张大爷: 村口路灯不亮了，晚上黑乎乎的")
    chat.say("王叔: 村口水渠堵了，水都漫到路上")
    assert [i.topic for i in issues(chat)] == ["灯", "渠"]
    assert [i.reports for i in issues(chat)] == [1, 1]


def test_the_groups_a_matter_names_decide_which_posts_are_compared_with_it(chat: Chat) -> None:
    """Matters store the 组 they name (migration 0009): a post about another 组 is not even
    read back, one about one of its 组, or naming none, still finds it."""
    chat.say("张大爷: 三组和五组停水了，一滴水都没有")
    chat.say("王叔: 二组停水了，龙头拧开没水")
    assert [i.groups for i in issues(chat)] == ["|三|五|", "|二|"]
    out = chat.bot_lines("李婶: 五组还是停水，啥时候来水")
    assert any("已有 #1" in line for line in out)
    out = chat.bot_lines("赵姨: 二组还是没水，龙头拧开啥也没有")
    assert any("已有 #2" in line for line in out)
    out = chat.bot_lines("刘婶: 停水了，一滴水都没有")  # names no 组: compared with all
    assert any("已有 #1" in line for line in out)
    chat.say("周叔: 四组也停水了")
    assert [i.reports for i in issues(chat)] == [3, 2, 1]


def test_matters_registered_before_groups_were_stored_are_still_told_apart(chat: Chat) -> None:
    chat.say("张大爷: 三组停水了，一滴水都没有")
    with Session(chat.app.engine) as session:
        session.execute(update(Issue).values(groups=None))
        session.commit()
    chat.say("王叔: 五组停水了，龙头拧开没水")  # compared with it, and still apart
    out = chat.bot_lines("李婶: 三组还是停水，啥时候来水")
    assert any("已有 #1" in line for line in out)
    assert [i.reports for i in issues(chat)] == [2, 1]


def test_pairs() -> None:
    assert same_matter("四组停水了", "四组从早上到现在一滴水都没有，啥时候来水")
    assert not same_matter("四组停水了", "二组也停水了")
    assert not same_matter("村口路灯不亮了", "村口的路灯白天也亮着，一直不关，浪费电")
    assert not same_matter("四组停水了", "四组又停水了，这个月第三次")
    assert not same_matter("我家门口那段小路被雨冲坏了", "周奶奶家门口那段路也冲坏了")


def test_numbered_groups_stay_apart() -> None:
    assert not same_matter("3组水塔漏水了", "5组水塔漏水了")
    assert same_matter("3组水塔漏水了，哗哗流", "３组的水塔还在漏水")


def test_another_shop_or_house_number_is_another_issue(chat: Chat) -> None:
    chat.say("张大爷: 刘记超市门口的路灯不亮了，晚上黑乎乎的")
    chat.say("李婶: 陈记超市门口的路灯不亮了，晚上黑乎乎的")  # another shop
    chat.say("王叔: 9号门口的水管漏水了，流了一地")
    chat.say("赵姨: 19号门口的水管漏水了，流了一地")  # another house
    assert [i.reports for i in issues(chat)] == [1, 1, 1, 1]
    out = chat.bot_lines("刘婶: 老刘超市门口那个路灯还是不亮，黑得很")
    assert any("已有 #1" in line for line in out)
    out = chat.bot_lines("周叔: 九号门口的水管还在漏水")
    assert any("已有 #3" in line for line in out)


def test_a_group_said_another_way_finds_its_matter(chat: Chat) -> None:
    chat.say("张大爷: 6组停水了，一滴水都没有")
    [first] = issues(chat)
    assert first.groups == "|六|"
    out = chat.bot_lines("李婶: 第六村民小组还是停水，啥时候来水")
    assert any("已有 #1" in line for line in out)
    chat.say("王叔: 九组也停水了")
    assert [i.reports for i in issues(chat)] == [2, 1]


def test_matters_stored_with_digits_before_places_are_still_found(chat: Chat) -> None:
    """Before handlers/places.py, "3组" was stored as |3|: a post saying 三组 still finds it."""
    chat.say("张大爷: 3组停水了，一滴水都没有")
    with Session(chat.app.engine) as session:
        session.execute(update(Issue).values(groups="|3|"))
        session.commit()
    out = chat.bot_lines("李婶: 三组还是停水，啥时候来水")
    assert any("已有 #1" in line for line in out)
