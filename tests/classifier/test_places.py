"""Places in posts: another 组, house number, shop, bridge or road is another matter; the
aliases of one place are one place."""

from __future__ import annotations

import pytest

from classifier.duplicates import same_matter
from classifier.places import GROUP, HOUSE, Aliases, Place, differ, number, numeral, places


def named(text: str, kind: str) -> set[str]:
    return {p.name for p in places(text) if p.kind == kind}


@pytest.mark.parametrize(
    "text",
    ["六组的水渠", "6组的水渠", "６组的水渠", "第六村民小组的水渠", "六社的水渠", "六队的水渠"],
)
def test_a_group_is_read_in_all_its_spellings(text: str) -> None:
    assert named(text, GROUP) == {"六"}


def test_group_numbers_and_names() -> None:
    assert named("第十一组", GROUP) == {"十一"}
    assert named("11组", GROUP) == {"十一"}
    assert named("陆组", GROUP) == {"六"}  # the financial numeral
    assert named("河湾小组的路", GROUP) == {"河湾"}
    assert named("三组和八组", GROUP) == {"三", "八"}
    assert named("两个组都没水", GROUP) == set()  # how many, not which
    assert named("组长说了", GROUP) == set()
    assert (number("二十三"), number("23"), number("一百零五")) == (23, 23, 105)
    assert (numeral(3), numeral(10), numeral(17), numeral(40)) == ("三", "十", "十七", "四十")


def test_house_numbers_are_not_dates() -> None:
    assert named("9号门口的树倒了", HOUSE) == {"9"}
    assert named("门牌27号", HOUSE) == {"27"}
    assert named("二十七号院子里", HOUSE) == {"27"}
    assert named("4号楼楼道", HOUSE) == {"4"}
    assert named("下个月9号开会", HOUSE) == set()
    assert named("9号那天停的水", HOUSE) == set()
    assert named("6月9号停水", HOUSE) == set()


def test_sites_and_their_names() -> None:
    assert Place("店", "刘") in places("刘记超市门口")
    assert Place("店", "刘") in places("老刘小卖部")
    assert Place("店", "") in places("坡上那家小卖部")
    assert Place("桥", "铁索") in places("铁索桥的木板松了")
    assert Place("路", "建设") in places("建设路中间有个坑")
    assert not any(p.kind == "路" for p in places("路上有个坑"))  # a road only when named
    assert not any(p.kind == "路" for p in places("路灯不亮"))
    assert not any(p.kind == "井" for p in places("井盖没了"))
    assert Place("端", "西") in places("西头王记面馆")
    assert Place("饭店", "王") in places("西头王记面馆")  # not a shop called 西头王


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("二组的路灯", "九组的路灯"),
        ("一组到二组中间的桥", "二组到四组中间的桥"),
        ("5号门口", "15号门口"),
        ("刘记超市门口", "陈记超市门口"),
        ("铁索桥", "石拱桥"),
        ("建设路", "文化路"),
        ("东头", "西头"),
        ("村口", "村尾"),
        ("卫生室门口", "学校门口"),
        ("村委会门口", "村委会后门"),
        ("桥头那根电杆", "桥尾那根电杆"),
        ("大鱼塘边上", "小鱼塘边上"),
        ("上游", "下游"),
    ],
)
def test_different_places_differ(a: str, b: str) -> None:
    assert differ(places(a), places(b), a, b)
    assert differ(places(b), places(a), b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("六组", "第六村民小组"),
        ("6组", "六社"),
        ("三组", "三组和八组"),
        ("9号门口", "九号院子"),
        ("刘记超市", "老刘超市"),
        ("桥头", "河边桥头"),
        ("铁索桥", "那座桥"),
        ("学校", "小学"),
        ("村委会", "大队部"),
        ("水塔那边", "路边的水塔"),
        ("六组", "没说在哪"),
    ],
)
def test_one_place_said_two_ways_does_not_differ(a: str, b: str) -> None:
    assert not differ(places(a), places(b), a, b)
    assert not differ(places(b), places(a), b, a)


def test_aliases_from_the_grid() -> None:
    aliases = Aliases({"河湾组": "六组", "大队门口": "村口"})
    assert places("河湾组的水渠", aliases) == places("六组的水渠")
    assert not differ(places("河湾组", aliases), places("第六村民小组"))
    assert differ(places("河湾组", aliases), places("二组"))
    assert differ(places("大队门口"), places("村口"))  # without the village saying so
    assert not differ(places("大队门口", aliases), places("村口"))


def test_reports_of_other_places_are_never_one_matter() -> None:
    assert not same_matter("二组的路灯不亮了", "九组的路灯不亮了")
    assert not same_matter("5号门口的水管漏水了", "15号门口的水管漏水了")
    assert not same_matter("刘记超市门口的路灯坏了", "陈记超市门口的路灯坏了")
    assert not same_matter("铁索桥的护栏断了", "石拱桥的护栏断了")
    assert not same_matter("建设路的路灯不亮", "文化路的路灯不亮")
    assert not same_matter("西头的井水浑了", "东头的井水浑了")
    assert not same_matter("卫生室门口的路灯不亮", "学校门口的路灯不亮")


def test_the_same_trouble_said_of_somewhere_else_is_another_matter() -> None:
    assert not same_matter("停水了", "六组也停水了")
    assert not same_matter("桥头的路灯不亮", "桥头那边刘记超市的路灯也不亮")
    assert same_matter("六组停水了", "我家也停水了，六组的")  # one more household, one matter
    assert same_matter("陆组水管爆了", "六队的水管也爆了")  # the same place, said another way


def test_aliases_of_one_place_are_one_matter() -> None:
    assert same_matter("六组水塔漏水了", "第六村民小组的水塔还在漏水")
    assert same_matter("6组水塔漏水了", "六社水塔漏水，哗哗流")
    assert same_matter("刘记超市门口的路灯坏了", "老刘超市门口那个路灯还是坏的")
    assert same_matter("9号门口的水管漏水了", "九号门口水管还在漏水")
    aliases = Aliases({"河湾组": "六组"})
    assert not same_matter("河湾组水塔漏水了", "六组水塔还在漏水")
    assert same_matter("河湾组水塔漏水了", "六组水塔还在漏水", aliases=aliases)
