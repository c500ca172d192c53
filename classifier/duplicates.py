"""Is a new post the same matter as an open issue? (five people reporting one dark street light)

Precision first: a wrong link hides a real matter behind someone else's number, a missed link
only costs a second issue. Two texts report the same matter when
- they name the same things (objects: 路灯, 水塔, 电杆 …) — no thing in one that is missing from
  the other, things often named in passing (路, 树 …) aside — and the same kind of trouble where
  both say it (不亮 vs 一直亮 are two matters),
- they do not name different places (handlers/places.py: another 组, house number, shop,
  bridge, road, well, school …; 三组 = 第三村民小组 = 3组 = 三社), nor different households
  (我家 / 刘家 / 周奶奶),
- the new one is not a new occurrence ("这个月第三次"), nor the same trouble somewhere or
  someone else: "X也…" where X says what the reported matter does not (五组桥头的灯也不亮),
- and their content overlaps enough (IDF-weighted characters and bigrams, overlap coefficient).
`TextDuplicates.find` applies this to open issues of the same village and kind from the last
14 days, newest first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session

from classifier.normalize import normalize
from classifier.places import (
    STOP,
    Aliases,
    Place,
    among,
    clean,
    differ,
    groups,
    number,
    places,
    without_places,
)
from storage import issues, records
from storage.models import Issue

WINDOW = timedelta(days=14)
RECHECK = 600.0  # seconds between two looks for open issues stored without a topic
THRESHOLD = 0.2  # overlap needed once things, trouble and place agree
MAX_CANDIDATES = 200  # open matters compared with a post, newest first
REPORT_CACHE = 50_000  # features of recent issues kept in memory (a few MB)

# Things a report is about (canonical name: words). Longest words are matched first.
OBJECTS: dict[str, tuple[str, ...]] = {
    "灯": ("路灯", "灯", "照明"),
    "供水": ("停水", "没水", "来水", "自来水", "龙头", "供水", "饮水", "水浑", "水黄"),
    "水塔": ("水塔", "水池", "饮水池", "蓄水池"),
    "水管": ("水管", "管道", "主管"),
    "路": ("路面", "村道", "道路", "机耕道", "路"),
    "坑": ("坑",),
    "桥": ("桥",),
    "垃圾": ("垃圾",),
    "狗": ("狗",),
    "电杆": ("电线杆", "电杆", "线杆"),
    "电线": ("电线", "线路"),
    "变压器": ("变压器", "台区"),
    "电": ("停电", "来电", "电压"),
    "树": ("树",),
    "渠": ("水渠", "渠道", "渠", "涵洞", "排水沟"),
    "厕所": ("厕所", "公厕"),
    "护栏": ("护栏",),
    "井盖": ("井盖",),
    "监控": ("监控", "摄像头"),
    "减速带": ("减速带",),
    "斑马线": ("斑马线",),
    "网": ("宽带", "信号", "上网", "网线"),
    "车": ("校车", "班车", "公交"),
    "墙": ("墙",),
    "喇叭": ("喇叭", "广播"),
    "电梯": ("电梯",),
    "冰箱": ("冰箱",),
    "医生": ("医生",),
    "低保": ("低保",),
    "医保": ("医保",),
    "养老": ("养老",),
    "补偿": ("补偿", "征地", "赔多少"),
    "流转": ("流转",),
    "账": ("账", "财务", "村务公开"),
    "羊": ("羊",),
    "鸡": ("鸡",),
    "牛": ("牛",),
    "猪": ("猪", "粪水"),
    "沙": ("沙", "砖", "建筑垃圾"),
}
# Things often named only in passing ("斜靠在树上", "路边的变压器"): they do not tell two
# reports apart unless nothing else is named.
INCIDENTAL = frozenset({"路", "树", "墙", "沙", "冰箱", "坑"})
# Kinds of trouble; two reports that both name one must share it.
TROUBLES: dict[str, tuple[str, ...]] = {
    "不亮": ("不亮", "黑", "灭", "暗", "不响"),
    "常亮": ("一直亮", "不关", "白天也亮"),
    "漏": ("漏", "渗", "冒水", "流水"),
    "堵": ("堵", "淤", "清淤"),
    "塌": ("塌", "冲断", "垮", "冲坏", "冲走"),
    "裂": ("裂", "缝"),
    "倒": ("倒", "歪", "斜"),
    "缺": ("没了", "缺", "丢"),
    "砸": ("砸", "撞", "偷"),
    "压坏": ("压坏", "压的"),
    "咬": ("咬",),
    "叫": ("叫", "吵", "响"),
    "浑": ("浑", "黄", "脏"),
    "味": ("味", "臭"),
    "占": ("占", "围", "圈", "堆"),
    "遮": ("遮", "晒不到", "没太阳", "一点太阳"),
    "没装": (
        "没有灯",
        "一盏灯都没有",
        "没有护栏",
        "没护栏",
        "装个",
        "装两",
        "装几",
        "安个",
        "建个",
        "建议",
        "弄个",
    ),
    "坑": ("坑",),
    "新装": ("新装", "新修", "新建"),
    "标准": ("标准", "多少钱", "多少一亩", "赔多少"),
    "未发": ("不分", "没分", "没给", "没到账", "还没发", "不给", "没发"),
    "锁": ("锁",),
    "烂": ("烂", "朽"),
    "积水": ("积水", "一汪水", "漫水", "淹"),
    "挖": ("挖",),
    "私接": ("接到", "截了电", "私拉"),
    "冲水": ("冲水",),
}
# One wording of the village office for the content overlap (places.py reads the places).
_SAME_PLACE = (
    ("大队", "村部"),
    ("村委会", "村部"),
    ("村委", "村部"),
    ("小学", "学校"),
    ("村小", "学校"),
)
_AGAIN = re.compile(
    r"第[0-9一二三四五六七八九十几]+[次回]|又一次|另一|又.{0,6}一处|这次在|还有一?[个处条根盏]"
)
# "X也…": the same trouble at X too. When X says something the reported matter does not
# (五组桥头的灯也不亮, 刘家的狗也咬人), it is another occurrence; not when X is the poster (我也,
# 我家也: one more person affected) or no subject at all (啥也看不见, 也就是, 也许).
_ALSO = re.compile(r"([^\s,.!?;:，。！？；：、…]*?)也(?!就是|许|好|行|罢|算)")
_WHO = "我们|俺们|咱们|我家|俺家|咱家|我|俺|咱|你们|你|他们|他|她|大家|人家|别人"
_ALSO_WHO = re.compile(
    rf"^(?:今天|昨天|昨晚|现在|这几天|最近|晚上|早上)*(?:{_WHO}|谁|啥|什么|一点|哪|怎么|这样|那样|"
    rf"反正|但是|而且|不过|就是|还是)|(?:{_WHO}|还|都|又|就|却|倒|可|真)$"
)
# Whose matter: "我家", "刘家", "周奶奶" … two different households are two matters.
_OWNER = re.compile(r"([\u4e00-\u9fff])(?:家|奶奶|爷爷|大爷|大妈|婶|叔|伯|嫂)")
_NOT_OWNER = set("人大各自全农住国东西这那谁哪别两几每一")
_STOP = set(
    "的了是在我你他她它们这那个也都就还又吗呢吧啊呀哦嘛么着过把被给让和跟与及有没不很太好多一"
    "上下里来去说要会能到得地啥什么怎今天昨晚早现家"
)


def _regex(table: dict[str, tuple[str, ...]]) -> tuple[re.Pattern[str], dict[str, str]]:
    words = {w: name for name, ws in table.items() for w in ws}
    return re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True)))), words


_OBJ_RE, _OBJ = _regex(OBJECTS)
_TRO_RE, _TRO = _regex(TROUBLES)


class Report:
    """What the matching needs of one text, computed once."""

    def __init__(self, text: str, aliases: Aliases | None = None) -> None:
        n = normalize(text)
        for a, b in _SAME_PLACE:
            n = n.replace(a, b)
        self.norm = n
        self.objects = {_OBJ[m] for m in _OBJ_RE.findall(n)}
        self.core = (self.objects - INCIDENTAL) or self.objects
        self.troubles = {_TRO[m] for m in _TRO_RE.findall(n)}
        self.places = places(text, aliases)
        self.groups = groups(self.places)
        self.again = bool(_AGAIN.search(n))
        self.text = clean(text)
        self.chars = set(self.text)
        subjects = [m.group(1) for m in _ALSO.finditer(self.text) if m.group(1)]
        self.also = [
            (places(x, aliases), without_places(x, aliases))
            for x in subjects
            if not _ALSO_WHO.search(x)
        ]
        self.owners = {m for m in _OWNER.findall(n) if m not in _NOT_OWNER}
        grams: set[str] = set()
        for piece in n.split(" "):
            grams.update(c for c in piece if c not in _STOP)
            grams.update(
                piece[i : i + 2]
                for i in range(len(piece) - 1)
                if piece[i] not in _STOP and piece[i + 1] not in _STOP
            )
        self.grams = grams
        self._mass: tuple[Callable[[str], float], float] | None = None

    def mass(self, weight: Callable[[str], float]) -> float:
        """The weight of all its grams (kept: a cached issue is compared with many posts)."""
        if self._mass is None or self._mass[0] is not weight:
            self._mass = (weight, sum(weight(g) for g in self.grams))
        return self._mass[1]


def _default_weight(gram: str) -> float:
    return 1.0


def _elsewhere(subject: tuple[frozenset[Place], str], old: Report) -> bool:
    """Does "<subject>也…" say the trouble is somewhere or someone the reported matter is not?
    Its places must be the matter's (七队 for 柒组), its other words the matter's words."""
    where, rest = subject
    if not among(where, old.places):
        return True
    return any(c not in old.chars for c in rest if c not in _STOP and c not in STOP and c != "|")


def similarity(a: Report, b: Report, weight: Callable[[str], float] = _default_weight) -> float:
    """0 when the two cannot be one matter, else their content overlap (0–1)."""
    if not a.objects or a.core != b.core:
        return 0.0
    if a.troubles and b.troubles and not a.troubles & b.troubles:
        return 0.0
    if differ(a.places, b.places, a.text, b.text):
        return 0.0
    if a.owners and b.owners and not a.owners & b.owners:
        return 0.0
    if b.again or any(_elsewhere(subject, a) for subject in b.also):
        return 0.0
    wa, wb = a.mass(weight), b.mass(weight)
    if not wa or not wb:
        return 0.0
    return sum(weight(g) for g in a.grams & b.grams) / min(wa, wb)


def same_matter(
    a: str,
    b: str,
    weight: Callable[[str], float] = _default_weight,
    threshold: float = THRESHOLD,
    aliases: Aliases | None = None,
) -> bool:
    return similarity(Report(a, aliases), Report(b, aliases), weight) >= threshold


def topic_of(report: Report) -> str:
    """The things a report names, as one key ("" when it names none)."""
    return "|".join(sorted(report.core))


def groups_of(report: Report) -> str | None:
    """The 组 a report names, as a column value ("|三|五|", "|上坝|"; None when it names none)."""
    return "".join(f"|{g}" for g in sorted(report.groups)) + "|" if report.groups else None


def _spellings(group: str) -> list[str]:
    """How a group may be stored: as groups_of writes it (三, 十二), and as matters registered
    before places.py stored it when the post wrote digits (3, 12)."""
    n = number(group)
    return [group, str(n)] if n is not None else [group]


class TextDuplicates:
    """The `DuplicateFinder` of handlers.deps: the most similar open issue of the same village
    and kind reported within `window`, when it reports the same matter."""

    def __init__(
        self,
        weight: Callable[[str], float] | None = None,
        *,
        threshold: float = THRESHOLD,
        window: timedelta = WINDOW,
    ) -> None:
        self.weight = weight or _default_weight
        self.threshold = threshold
        self.window = window
        self._reports: dict[tuple[int | None, str], Report] = {}
        self._last: tuple[str, Report] | None = None
        # Whether open issues without a topic exist (see `_untopiced`), and when it was asked.
        self._untopiced: tuple[bool, datetime] | None = None

    @classmethod
    def for_classifier(cls, classifier: object) -> TextDuplicates:
        """Weighted by the document frequencies in the classifier's model file, when it has them."""
        return cls(idf_of(classifier))

    def keys(self, text: str) -> dict[str, str | None]:
        """What a new issue's text is about and where, stored with it (see `find`)."""
        report = self._new_report(text)
        return {"topic": topic_of(report), "groups": groups_of(report)}

    def _new_report(self, text: str) -> Report:
        # A post is looked up (`find`) and then registered (`keys`): one Report for both.
        if self._last is None or self._last[0] != text:
            self._last = (text, Report(text))
        return self._last[1]

    def find(
        self, session: Session, *, village_id: int, text: str, kind: str, now: datetime
    ) -> Issue | None:
        new = self._new_report(text)
        if not new.objects:  # nothing named: it cannot be matched to anything (see similarity)
            return None
        # Only issues about the same things can match (similarity's first test), and the topic
        # column says which those are: the index hands over a few rows, not every open matter
        # of the village. Ids and texts only, each text's features computed once per process.
        candidates = issues.duplicate_candidates(
            session=session,
            village_id=village_id,
            kind=kind,
            topic=topic_of(new),
            since=now - self.window,
            groups=[s for g in sorted(new.groups) for s in _spellings(g)],
            limit=MAX_CANDIDATES,
            untopiced=self._any_untopiced(session, now),
        )
        best, best_score = None, self.threshold
        for issue_id, issue_text in candidates:
            score = similarity(self._report(issue_id, issue_text), new, self.weight)
            if score >= best_score:
                best, best_score = issue_id, score
        return records.by_id(session, Issue, best) if best is not None else None

    def _any_untopiced(self, session: Session, now: datetime) -> bool:
        """Whether the candidates must include issues stored without a topic (those registered
        before topics were stored). Asked at the first post and again every `RECHECK`: every
        issue registered with this finder has a topic, so once the old ones have left the
        window the second index search per post (a third of intake's database time) is saved."""
        if self._untopiced is None or not 0 <= (now - self._untopiced[1]).total_seconds() < RECHECK:
            found = issues.untopiced_open(session=session, since=now - self.window)
            self._untopiced = (found, now)
        return self._untopiced[0]

    def _report(self, issue_id: int | None, text: str) -> Report:
        """An issue's text never changes after registration, so its features are cached. The
        text is part of the key: an id given out in a transaction that was rolled back comes
        again with another text."""
        key = (issue_id, text)
        report = self._reports.get(key)
        if report is None:
            if len(self._reports) >= REPORT_CACHE:
                self._reports.clear()
            report = self._reports[key] = Report(text)
        return report


def idf_of(classifier: object) -> Callable[[str], float] | None:
    """IDF weights from the document frequencies a `classifier.model.LinearModel` carries."""
    model = getattr(classifier, "model", None)
    df = getattr(model, "df", None)
    n_docs = getattr(model, "n_docs", 0)
    if not df or not n_docs:
        return None
    lookup: dict[str, int] = df

    def weight(gram: str) -> float:
        return math.log((n_docs + 1) / (lookup.get(gram, 0) + 1)) + 0.1

    return weight
