from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from handlers.parsing import explicit_tag, parse_command, parse_due, parse_kind, report_body
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
