"""Where a post says its matter is: the places a text names, and whether two texts name
different places (then they are two matters, however alike they read: the street light of 三组
and the one of 五组 are two lights).

Small regular rules, no gazetteer: a place is a kind and a name, read in this order, each one
masked once read ("东头王记小卖部" is the east end and the shop 王, not a shop called 东头王):
- a villagers' group: 三组 = 3组 = 第三村民小组 = 三社 = 三队 = 伍组 … (组 三); by name:
  上坝组, 南山小组 (组 上坝, 组 南山);
- a house number said as one: 12号门口, 3号楼, 门牌12号 (号 12); not a date (5号停水, 5月12号);
  a road's kilometre: K3 (公里 3);
- an end of the village: 东头 = 村东 = 东边 (端 东), 村口 = 村头 (端 口), 村尾 (端 尾);
  上游 / 下游 (游 上 / 下);
- a site: the word for what it is (a small table, SITES) and the name read backwards in front
  of it up to a function word, measure word, verb of trouble or punctuation: 石板桥 (桥 石板),
  桥头 (桥, unnamed), 王记小卖部 = 老王超市 = 王婶小卖部 (店 王: a shop by its keeper), 土地庙
  (庙 土地), 大堰塘 (塘 大), 村小 / 中心小学 (学校 村 / 中心), 村委会 = 大队 (村部); some words
  are a place only with a name (人民路, 后山, 林场, 麦田; not 路上, 山里); and the part of a site
  that is said: 桥头 / 桥尾, 坡顶 / 坡脚, 村委会门口 / 后门;
- a spot said as "X那边, X旁边, X底下 …" (梁子那边, 大樟树底下): X, compared by its words.

Two texts name different places (`differ`) when
- both name groups (or house numbers, or kilometres) and neither's are among the other's
  (三组 / 五组; 三组 and 三组和五组 may be one matter);
- both name a site of one kind by names that do not hold each other (王记 / 张记 小卖部,
  大堰塘 / 小堰塘, 东头 / 西头; 土地庙 / 土地菩萨庙 agree), or two parts of it (桥头 / 桥尾);
- or each names a place the other does not (学校门口 / 卫生室门口, 村口 / 桥头). Naming less is
  not naming something else: 桥头 and 河边桥头 agree, and so do a text naming no place and any.

A village can say that two wordings are one place (`Aliases`, e.g. from its grid: 上坝组 is
三组, 村委会门口 is 村口): the text is rewritten before it is read.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from classifier.normalize import T2S

GROUP = "组"
HOUSE = "号"
MARKER = "公里"
END = "端"
STREAM = "游"
# Kinds compared as sets (a post may name two 组: 三组和五组都停水).
EXCLUSIVE = (GROUP, HOUSE, MARKER)

_DIGITS = "0123456789"
_CN = "零〇一二三四五六七八九壹贰叁肆伍陆柒捌玖"  # and the financial numerals (伍组 = 五组)
_NUM = f"[{_DIGITS}{_CN}十百拾佰]+"
_TABLE = {ord(k): v for k, v in T2S.items()}

# Characters that end a name read backwards from a site word: function words, pronouns,
# demonstratives, measure words, positions, verbs of going, mending and trouble.
STOP = set(
    "的得了着过是在到去往从向朝和跟与及同也都就还又再才把被给让说要会能有没不很太"
    "我你他她它们咱俺自己这那哪啥个座条根盏段处块片口边旁里外内间附近对面侧隔壁"
    "走修搞弄装换拉看找喊叫问等住离靠挨成砍撞爆淹堵漏塌断坏倒歪烂挖占征租"
    "分亩户排棵堆眼只截为替帮比"
    "每各本全整两几以"
    "村|"
)
_MAX_NAME = 4

# Site words and the kind of place each names (longest words are matched first).
SITES: dict[str, str] = {
    **dict.fromkeys(("小卖部", "小卖店", "小卖铺", "超市", "商店", "便利店", "卖部", "商铺"), "店"),
    **dict.fromkeys(("店", "理发店", "五金店", "农资店"), "店"),
    **dict.fromkeys(("面馆", "饭馆", "饭店", "餐馆", "餐厅", "小吃店", "酒店"), "饭店"),
    **dict.fromkeys(("药店", "药房", "诊所"), "药店"),
    "桥": "桥",
    **dict.fromkeys(("路", "街", "巷", "胡同"), "路"),
    "井": "井",
    **dict.fromkeys(("堰塘", "池塘", "水塘", "塘", "堰"), "塘"),
    "水库": "水库",
    **dict.fromkeys(("河", "溪"), "河"),
    **dict.fromkeys(("学校", "小学", "村小", "校门", "学堂", "校"), "学校"),
    "中学": "中学",
    "幼儿园": "幼儿园",
    **dict.fromkeys(("卫生室", "卫生所", "卫生院", "医务室"), "卫生室"),
    **dict.fromkeys(("村部", "村委会", "村委", "大队部", "大队", "村两委", "党群服务中心"), "村部"),
    "广场": "广场",
    **dict.fromkeys(("晒谷场", "晒场", "晒坝", "打谷场"), "晒场"),
    **dict.fromkeys(("球场", "篮球场"), "球场"),
    "停车场": "停车场",
    **dict.fromkeys(("菜市场", "菜场", "市场", "集市", "集上"), "集市"),
    **dict.fromkeys(("戏台", "舞台"), "戏台"),
    **dict.fromkeys(("祠堂", "宗祠"), "祠堂"),
    **dict.fromkeys(("庙", "寺"), "庙"),
    "教堂": "教堂",
    **dict.fromkeys(("公交站", "车站", "站台", "招呼站", "候车亭"), "车站"),
    "垃圾站": "垃圾站",
    **dict.fromkeys(("敬老院", "养老院", "幸福院"), "敬老院"),
    **dict.fromkeys(("活动室", "活动中心", "文化室", "文化礼堂", "礼堂"), "活动室"),
    **dict.fromkeys(("安置点", "安置区", "小区"), "小区"),
    **dict.fromkeys(("码头", "渡口"), "码头"),
    **dict.fromkeys(("垭口", "山口"), "垭口"),
    # Named by what is in front: 粮站, 林场, 油坊, 砖厂, 茶园, 后山, 鹰嘴岩, 刘家湾, 麦田,
    # 上坎, 排水沟, 洗衣台, 上院子 …
    **{w: w for w in "站场坊厂园山林坡岭岩崖潭湾坝坪寨庄屯田地坎沟台"},
    "塆": "湾",
    "院子": "院子",
}
# Words that are a place only with a name in front ("人民路", "后山"; not "路上", "山里").
NAMED_ONLY = frozenset(
    ("路", "街", "巷", "店", "校", "院子", *"站场坊厂园山林坡岭岩崖潭湾塆坝坪寨庄屯田地坎沟台")
)
# Parts of a site: 桥头 / 桥尾, 街头 / 街尾, 坡顶 / 坡脚, 沟底 (two ends of one bridge are two
# places); the terrain's parts for terrain only (山头 is a hill, 桥底下 is under the bridge).
_ENDS_OF = "头尾"
_TERRAIN = frozenset({"山", "坡", "岭", "沟", "坎"})
_ENDS_OF_TERRAIN = "头尾顶脚底腰"
_WHOLE = frozenset({"山", "林", "园"})  # 山头, 林头 name the whole
_DOORS = {
    **dict.fromkeys(("门口", "门前", "大门", "前门", "正门", "大门口"), "前"),
    **dict.fromkeys(("后门", "后门口"), "后"),
    **dict.fromkeys(("侧门", "边门", "小门"), "侧"),
}
# The word names the place by itself: 村小 is the village's own school (not 中心小学).
_NAME_IN_WORD = {"村小": "村"}
# Not a site when followed by these: 路灯 is a lamp, 井盖 a cover, 广场舞 a dance.
_NOT_AFTER = {
    "路": "灯费线子过程况",
    "井": "盖",
    "河": "南北",
    "校": "车长服医园",
    "广场": "舞",
    "站": "着起住岗",
    "场": "合面景所",
    "园": "长",
    "山": "药",
    "林": "业",
    "厂": "家长",
    "坝": "子",
    "庄": "稼",
    "地": "方址区点图下上里头",
    "台": "阶风",
}
# Names that only say which sort of a thing it is, or words that end in a site word without
# being one: 马路 and 公路 are the main road, 上山 is going up a hill, 现场 is not a place.
_GENERIC = {
    "路": {"马", "公", "大马", "道"},
    "井": {"水"},
    "场": {"现", "当", "赶", "立", "下", "上", "商", "官", "考", "剧", "会", "操", "市", "一"},
    "山": {"上", "下", "爬", "进", "出", "满"},
    "坡": {"上", "下", "爬", "滑", "陡"},
    "岭": {"上", "下", "爬"},
    "坝": {"院"},
    "田": {"种", "下", "进", "耕", "农"},
    "地": {"土", "当", "本", "外", "满", "落", "种", "下", "耕", "田", "基", "各", "空", "平"},
    "台": {"平", "阳", "灶", "窗", "柜", "讲", "上", "下", "电", "后", "前"},
    "院子": {"家", "大", "小"},
}
# Words a shop's name is dressed in: 王记 = 王家 = 老王 = 王婶 (a shop is named by its keeper).
_KEEPER_RE = re.compile(
    r"^(?:老|小)?(.+?)(?:记|家|氏|婶子?|叔|伯|嫂子?|姐|哥|妈|奶奶|爷爷|大爷|大妈|大叔|大姐|老板)?$"
)
_SHOPS = frozenset({"店", "饭店", "药店"})

_GROUP_RE = re.compile(rf"第?({_NUM})(?:村民小组|村民组|小组|组|社|生产队|队)(?!长|织|成|合|建)")
_NAMED_GROUP_RE = re.compile(r"(?:村民小组|小组|组)(?!长|织|成|合|建|员|里的人)")
# A house number is said as one: 12号门口, 3号楼, 门牌12号, 人民路5号; a bare "5号停水" is a date.
_HOUSE_RE = re.compile(
    rf"(?<![月{_DIGITS}{_CN}十百拾佰])({_NUM})号"
    r"(?=门|家|院|楼|屋|房|户|住|那家|那户|这家|这户|的|旁|边|对面|后面|前面|隔壁|附近)"
    r"(?!的时候|的那天)"
    rf"|(?:(?<=门牌)|(?<=[路街巷组村]))({_NUM})号"
)
_MARKER_RE = re.compile(r"(?<![a-z0-9])k(\d+)(?![0-9])")  # K3 on a road: the 3rd kilometre
_DATE_BEFORE = re.compile(r"(?:[月日]|今天|明天|昨天|本月|下月|上月|这个月|上个月|下个月)$")
_ENDS: dict[str, tuple[str, str]] = {
    **{w: (END, d) for d in "东西南北" for w in (f"{d}头", f"村{d}", f"{d}边", f"{d}面", f"{d}侧")},
    **dict.fromkeys(("村口", "村头", "进村口", "寨口", "村门口"), (END, "口")),
    **dict.fromkeys(("村尾", "村子尾", "村后头"), (END, "尾")),
    "上游": (STREAM, "上"),
    "下游": (STREAM, "下"),
}


def _alternation(words: Iterable[str]) -> str:
    return "|".join(map(re.escape, sorted(words, key=len, reverse=True)))


_ENDS_RE = re.compile(_alternation(_ENDS))
_SITES_RE = re.compile(_alternation(SITES))
_DOOR_RE = re.compile(r"(?:的|那个|那道)?(?:" + _alternation(_DOORS) + ")")
# Where a post says "at X" without a site word: X那边, X旁边, X门口, X底下 … (梁子那边,
# 老槐树底下): X is a spot of its own kind, compared by its name like a site.
SPOT = "处"
_AT_RE = re.compile(
    _alternation(
        (
            *("那边", "那里", "那儿", "那块", "那片", "那段", "那头", "这边", "这里"),
            *("边上", "旁边", "门口", "门前", "后面", "后头", "后边", "前面", "前头", "前边"),
            *("底下", "下面", "下头", "上面", "上头", "附近", "对面", "背后", "里头", "里面"),
            *("一带", "周围", "脚下", "跟前", "边", "旁"),
        )
    )
)
_NOT_SPOT = {"家", "屋", "这", "那"}


@dataclass(frozen=True, order=True)
class Place:
    kind: str
    name: str  # "" for an unnamed site (桥头, 那家小卖部)


class Aliases:
    """Wordings a village uses for one place (from its grid or by hand): each alias is
    rewritten to its place before a text is read, e.g. {"上坝组": "三组", "村委会门口": "村口"}."""

    def __init__(self, aliases: Mapping[str, str] | None = None) -> None:
        self.aliases = {
            clean(k): clean(v) for k, v in (aliases or {}).items() if clean(k) != clean(v)
        }
        self._re = re.compile(_alternation(self.aliases)) if self.aliases else None

    def apply(self, text: str) -> str:
        if self._re is None:
            return text
        return self._re.sub(lambda m: self.aliases[m.group(0)], text)


NO_ALIASES = Aliases()


def clean(text: str) -> str:
    """NFKC (full-width digits), simplified characters, lower case; digits kept."""
    return unicodedata.normalize("NFKC", text).lower().translate(_TABLE)


def number(numeral: str) -> int | None:
    """12, 十二, 一十二, 一二 (read digit by digit), 百零三 → the number; None if not one."""
    if numeral.isdigit():
        return int(numeral)
    digits = dict(zip("零一二三四五六七八九", range(10), strict=True))
    digits |= dict(zip("〇壹贰叁肆伍陆柒捌玖", range(10), strict=True))
    if not set(numeral) & set("十拾百佰"):
        if all(c in digits for c in numeral):
            return int("".join(str(digits[c]) for c in numeral))
        return None
    total, current = 0, 0
    for c in numeral:
        if c in digits:
            current = digits[c]
        elif c in "十拾":
            total += (current or 1) * 10
            current = 0
        elif c in "百佰":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def numeral(n: int) -> str:
    """3 → 三, 12 → 十二, 20 → 二十 (how a group is written in the village)."""
    units = "零一二三四五六七八九"
    if n < 10:
        return units[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else units[tens]) + "十" + (units[ones] if ones else "")
    return str(n)


def _name_before(text: str, end: int) -> str:
    """The name in front of a site word ending at `end`: the last few characters before it
    that are not function words, measure words, numerals or punctuation."""
    start = end
    while start > 0 and end - start < _MAX_NAME:
        c = text[start - 1]
        if c in STOP or not ("\u4e00" <= c <= "\u9fff"):
            break
        start -= 1
    name = text[start:end]
    if name.startswith("家"):  # 我家瓦沟: the 瓦沟 of my house
        name = name[1:]
    if all(c in _CN or c in "十百拾佰" for c in name):  # 一台, 三盏: how many, not which
        return ""
    return name


def _strip(name: str, generic: Iterable[str]) -> str:
    """A name without the words that only say what sort of site it is (张家大院子 → 张)."""
    words = sorted(generic, key=len, reverse=True)
    while name:
        tail = next((w for w in words if name.endswith(w)), None)
        if tail is None:
            break
        name = name[: -len(tail)]
    return name


def _mask(text: str, span: tuple[int, int]) -> str:
    a, b = span
    return text[:a] + "|" * (b - a) + text[b:]


@lru_cache(maxsize=4096)
def _read(text: str, aliases: Aliases) -> tuple[frozenset[Place], str]:
    """The places of a text, and its clean text with each place read masked."""
    t = aliases.apply(clean(text))
    found: set[Place] = set()
    for m in list(_GROUP_RE.finditer(t)):
        n = number(m.group(1))
        if n is not None and 0 < n < 100:
            found.add(Place(GROUP, numeral(n)))
            t = _mask(t, m.span())
    for m in list(_NAMED_GROUP_RE.finditer(t)):
        name = _name_before(t, m.start())
        if len(name) >= 2:
            found.add(Place(GROUP, name))
            t = _mask(t, (m.start() - len(name), m.end()))
    for m in list(_HOUSE_RE.finditer(t)):
        n = number(m.group(1) or m.group(2))
        if n is not None and not _DATE_BEFORE.search(t, 0, m.start()):
            found.add(Place(HOUSE, str(n)))
            t = _mask(t, m.span())
    for m in list(_MARKER_RE.finditer(t)):
        found.add(Place(MARKER, m.group(1)))
        t = _mask(t, m.span())
    for m in list(_ENDS_RE.finditer(t)):
        found.add(Place(*_ENDS[m.group(0)]))
        t = _mask(t, m.span())
    for m in list(_SITES_RE.finditer(t)):
        word = m.group(0)
        kind = SITES[word]
        after = t[m.end() : m.end() + 1]
        if after and after in _NOT_AFTER.get(word, ""):
            continue
        door = _DOOR_RE.match(t, m.end())
        if door:  # 村委会门口 / 村委会后门: two sides of one site
            found.add(Place(kind + "门", _DOORS[door.group(0).lstrip("的那个道")]))
            t = _mask(t, door.span())
        if after and after in "东西南北":  # 河东: the east side
            found.add(Place(END, after))
        elif (
            after
            and after in (_ENDS_OF_TERRAIN if kind in _TERRAIN else _ENDS_OF)
            and (kind not in _WHOLE)
        ):
            found.add(Place(kind + END, after))
        name = _NAME_IN_WORD.get(word) or _name_before(t, m.start())
        name = _strip(name, _GENERIC.get(kind, ()))  # 大水井 is the 大 well
        if kind in _SHOPS and name:
            keeper = _KEEPER_RE.match(name)
            name = keeper.group(1) if keeper else name
        if word in NAMED_ONLY and not name:
            continue  # not masked: 林场 is the 场 called 林
        t = _mask(t, m.span())  # a name does not run across another site
        found.add(Place(kind, name))
    for m in _AT_RE.finditer(t):
        name = _name_before(t, m.start())
        if name in ("东", "西", "南", "北"):  # 河东那段: the east side
            found.add(Place(END, name))
        elif name and name not in _NOT_SPOT:
            found.add(Place(SPOT, name))
    return frozenset(found), t


def places(text: str, aliases: Aliases | None = None) -> frozenset[Place]:
    """The places a text names (see the module docstring)."""
    return _read(text, aliases or NO_ALIASES)[0]


def without_places(text: str, aliases: Aliases | None = None) -> str:
    """The clean text with its group, house number, end and named-site words masked ("|")."""
    return _read(text, aliases or NO_ALIASES)[1]


def among(few: frozenset[Place], many: frozenset[Place]) -> bool:
    """Is every place of `few` one that `many` names too (七队 among 柒组 and 东头)?"""
    return all(
        any(q.kind == p.kind and (q.name == p.name or _same_name(p.name, q.name)) for q in many)
        for p in few
    )


def groups(found: Iterable[Place]) -> set[str]:
    """The villagers' groups among places (三, 十二, 上坝)."""
    return {p.name for p in found if p.kind == GROUP}


def _same_name(a: str, b: str) -> bool:
    """土地庙 and 土地菩萨庙 name one temple, 石拱桥 and 拱桥 one bridge, 养猪场 and 猪场 one
    farm: one name holds the other (one character only next to the site word: 大桥 is not
    大石桥)."""
    short, long = sorted((a, b), key=len)
    return long.endswith(short) or (len(short) > 1 and short in long)


def differ(a: frozenset[Place], b: frozenset[Place], a_text: str = "", b_text: str = "") -> bool:
    """Do two texts name different places? `a` and `b` are their `places`; given the texts, a
    spot one names that the other text mentions (变压器那里 / 路边变压器) is named by both."""
    if not a or not b:
        return False
    for kind in EXCLUSIVE:
        na = {p.name for p in a if p.kind == kind}
        nb = {p.name for p in b if p.kind == kind}
        # 三组 and 三组和五组 may be one matter; 一组到二组 and 二组到三组 are not
        if na and nb and not (na <= nb or nb <= na):
            return True
    sa = {p for p in a if p.kind not in EXCLUSIVE}
    sb = {p for p in b if p.kind not in EXCLUSIVE}
    if not sa or not sb:
        return False
    ka, kb = {p.kind for p in sa}, {p.kind for p in sb}
    for kind in ka & kb - {SPOT}:
        na = {p.name for p in sa if p.kind == kind and p.name}
        nb = {p.name for p in sb if p.kind == kind and p.name}
        if na and nb and not any(_same_name(x, y) for x in na for y in nb):
            return True
    # Each names something the other does not: 学校门口 / 卫生室门口, 祠堂前的晒坝 / 学校后头
    # 的晒坝. Naming less is not naming something else (桥头 / 河边桥头). A spot is named by
    # the other text when it says its name anywhere (变压器那里 / 路边变压器).
    return _names_more(sa, kb, b_text) and _names_more(sb, ka, a_text)


def _names_more(mine: set[Place], their_kinds: set[str], their_text: str) -> bool:
    """Does a text name a place the other (its kinds of place, its text) does not?"""
    spots = [p.name for p in mine if p.kind == SPOT]
    if any(p.kind not in their_kinds for p in mine if p.kind != SPOT):
        return True
    if spots:
        text = clean(their_text)
        return any(name not in text for name in spots)
    return False
