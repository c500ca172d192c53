import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from handlers import registry, texts
from handlers.parsing import (
    NEEDS_NUMBER,
    explicit_tag,
    is_prose,
    parse_command,
    parse_due,
    parse_kind,
    report_body,
)
from handlers.privacy import mask

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize(
    ("text", "name", "number", "args"),
    [
        ("/claim 12", "claim", 12, ""),
        ("/claim@ShuoshiBot 12", "claim", 12, ""),
        ("认领 12", "claim", 12, ""),
        ("认领#12", "claim", 12, ""),
        ("办结 12 已修好", "close", 12, "已修好"),
        ("办结 #12：已修好", "close", 12, "已修好"),
        ("/close 12 已修好", "close", 12, "已修好"),
        ("认领", "claim", None, ""),
        ("限期 3 明天", "due", 3, "明天"),
        ("指派 7 张姐", "assign", 7, "张姐"),
        ("我的", "mine", None, ""),
        ("/mine", "mine", None, ""),
        ("列表", "list", None, ""),
        ("/foo 1", "unknown", None, "1"),
        ("绑定 123456", "bind", None, "123456"),
    ],
)
def test_commands_are_recognised(text: str, name: str, number: int | None, args: str) -> None:
    cmd = parse_command(text)
    assert cmd is not None
    assert (cmd.name, cmd.number, cmd.args) == (name, number, args)


@pytest.mark.parametrize(
    "text",
    [
        "我的天，路灯又坏了",
        "查询低保怎么办",
        "撤回了一条消息",
        "认领导来看看",
        "村口路灯坏了",
        "说事群真好",
    ],
)
def test_ordinary_posts_are_not_commands(text: str) -> None:
    assert parse_command(text) is None


def test_report_prefix_and_tags() -> None:
    assert report_body("说事 村口路灯坏了") == "村口路灯坏了"
    assert report_body("#说事：垃圾没人收") == "垃圾没人收"
    assert report_body("/report 水管漏了") == "水管漏了"
    assert report_body("说事群真好") is None
    assert explicit_tag("#邻里事 隔壁占我地") == "邻里事"
    assert explicit_tag("【户里事】我家老人病了") == "户里事"
    assert explicit_tag("路灯坏了") is None
    assert parse_kind("邻里事") == "邻里事" and parse_kind("3") == "户里事"
    assert parse_kind("瞎写") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3d", datetime(2026, 11, 26, 9, 0)),
        ("3天", datetime(2026, 11, 26, 9, 0)),
        ("三天", datetime(2026, 11, 26, 9, 0)),
        ("12小时", datetime(2026, 11, 23, 21, 0)),
        ("明天", datetime(2026, 11, 24, 18, 0)),
        ("2026-12-01", datetime(2026, 12, 1, 18, 0)),
        ("12月1日", datetime(2026, 12, 1, 18, 0)),
    ],
)
def test_due_forms(text: str, expected: datetime) -> None:
    due = parse_due(text, NOW)
    assert due is not None
    assert due.replace(tzinfo=None) == expected


@pytest.mark.parametrize(
    "text", ["下辈子", "2026-13-45", "", "'; DROP TABLE issue;--", "99999999天x"]
)
def test_unreadable_due(text: str) -> None:
    assert parse_due(text, NOW) is None


def test_masking_numbers() -> None:
    assert mask("电话13812345678找我") == "电话138****5678找我"
    assert mask("电话 138-1234-5678") == "电话 138****5678"
    assert mask("身份证110101199003071234") == "身份证110101********1234"
    assert "19003071" not in mask("身份证号 11010119900307123X")
    # Not a phone: part of a longer number, or too short.
    assert mask("订单号 2138123456789") == "订单号 2138123456789"
    assert mask("门牌 12 号") == "门牌 12 号"
    # Landlines keep their area code and last four digits; dates and short codes stay.
    assert mask("座机0571-88886666") == "座机0571-****6666"
    assert mask("打 0571 8888 6666 找我") == "打 0571-****6666 找我"
    assert "12345678" not in mask("电话（010）12345678")
    assert mask("编号 01234567，20261206 开会") == "编号 01234567，20261206 开会"


# --- the command registry (handlers/registry.py): parsing, help and menu derived from it -----


def test_every_declared_word_parses_to_its_command() -> None:
    for c in registry.COMMANDS:
        for word in [f"/{s}" for s in c.slash] + list(c.keywords):
            parsed = parse_command(f"{word} 12" if c.needs_number else word)
            if c.arg == registry.Arg.POST:
                assert parsed is None and report_body(f"{word} 路灯坏了") == "路灯坏了"
                continue
            assert parsed is not None and parsed.name == c.name, word
            assert parsed.number == (12 if c.needs_number else None)


def test_declared_words_are_unique() -> None:
    slashes = [s for c in registry.COMMANDS for s in c.slash]
    keywords = [k for c in registry.COMMANDS for k in c.keywords]
    assert len(slashes) == len(set(slashes)) and len(keywords) == len(set(keywords))
    assert len(registry.BY_NAME) == len(registry.COMMANDS)


def test_a_keyword_with_a_sentence_is_prose_but_a_bind_code_is_not() -> None:
    for text in ("查询 我家低保批了没有", "帮助 村里孤寡老人过冬", "我的 电动车被人划了"):
        cmd = parse_command(text)
        assert cmd is not None and is_prose(cmd)
    bind = parse_command("绑定 我的绑定码是多少")
    assert bind is not None and not is_prose(bind)
    slash = parse_command("/status 我家低保批了没有")
    assert slash is not None and not is_prose(slash)


def test_help_is_derived_from_the_registry_word_for_word() -> None:
    assert texts.HELP == (
        "说事助手：有事直接在群里说，我会登记、交给负责人并跟进。\n"
        "开头写“说事”一定登记；写 #邻里事 或【户里事】可自己定类别。\n"
        "网格员和村干部可用（编号可省略，直接回复我关于那件事的消息即可）：\n"
        "认领 12｜办结 12 已修好｜进展 12 已联系施工队｜限期 12 3天｜改类 12 邻里事\n"
        "指派 12 张姐（书记、镇领导）｜重办 12｜查询 12｜我的｜列表\n"
        "设组 12 三组｜邀请 12 吴律师｜"
        "议事 12 修村口路每户出工两天 同意/不同意/弃权 3天（书记、镇领导）"
        "｜回访 12 已上门，没再吵\n"
        "反映人可用：撤回 12｜查询 12｜我的。办结后回复 满意 / 基本满意 / 不满意。\n"
        "干部第一次用请私聊我：绑定 绑定码"
    )
    assert set(texts.COMMAND_EXAMPLES) == NEEDS_NUMBER
    assert texts.COMMAND_EXAMPLES["assign"] == "指派 12 张姐"
    assert texts.REPORT_EXAMPLE == "说事 村口路灯坏了"


def test_telegram_menus_are_derived_from_the_registry() -> None:
    assert registry.menu("group") == [
        ("report", "说一件事（一定登记）：/report 村口路灯坏了"),
        ("claim", "认领：/claim 12"),
        ("close", "办结：/close 12 已修好"),
        ("note", "记进展：/note 12 已联系施工队"),
        ("status", "查询：/status 12"),
        ("due", "改限期：/due 12 3天"),
        ("tag", "改类别：/tag 12 邻里事"),
        ("assign", "指派（书记）：/assign 12 张姐"),
        ("vote", "议事（书记）：/vote 12 议题 同意/不同意/弃权 3天"),
        ("reopen", "重办：/reopen 12"),
        ("withdraw", "撤回自己反映的事：/withdraw 12"),
        ("mine", "我的事项"),
        ("list", "本群未办结的村里事"),
        ("help", "怎么用"),
    ]
    assert registry.menu("private") == [
        ("start", "说事助手是做什么的"),
        ("bind", "干部绑定：/bind 绑定码"),
        ("mine", "我的事项"),
        ("status", "查询：/status 12"),
        ("claim", "认领：/claim 12"),
        ("close", "办结：/close 12 已修好"),
        ("note", "记进展：/note 12 已联系施工队"),
        ("visit", "记回访：/visit 12 已上门，没再吵"),
        ("list", "我们村未办结的村里事"),
        ("help", "怎么用"),
    ]
    for chats in ("group", "private"):
        places = [m.at for c in registry.COMMANDS for m in c.menu if m.chats == chats]
        assert len(places) == len(set(places)), f"two {chats} menu entries at one place"
        # Telegram: 1-32 characters, lowercase letters, digits and underscores.
        assert all(re.fullmatch(r"[a-z0-9_]{1,32}", slash) for slash, _ in registry.menu(chats))
