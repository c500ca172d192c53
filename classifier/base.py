"""Is a post a matter, and of which kind. The interface every classifier serves.

`KeywordClassifier` is the first, transparent baseline; a trained model replaces it where one ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from storage.models import NOT_MATTER, Kind

# The three outcomes of a post (see `decide`), with thresholds chosen on the leave-one-writer-out
# figures of bench/classifier.py (docs/benchmarks.md, "Classifier"; 11 writers, 8,709 posts):
# - registered in a group when P(matter) ≥ GROUP_THRESHOLD (in private, ≥ LOW_THRESHOLD);
# - triage (a private card to a cadre, nobody answered in the group) when LOW_THRESHOLD ≤
#   P(matter) < GROUP_THRESHOLD;
# - chatter otherwise (kept, listed in the admin, no answer).
# 0.6: macro-F1 0.955 at the group decision, 3.7 % of chatter registered (every writer but one
# ≤ 5 %), 96.9 % of matters registered; 0.5 registers 4.5 % of chatter for +0.8 % of matters,
# 0.7 saves 1 % of chatter for −0.6 % of matters.
GROUP_THRESHOLD = 0.6
# 0.3: 98.6 % of matters kept (every writer ≥ 96.4 %), 3.8 % of chatter sent to a card;
# 0.35 leaves one writer at 95.9 %, 0.2 doubles the cards for +0.4 % of matters.
LOW_THRESHOLD = 0.3
# A 村里事 whose P(户里事) + P(邻里事) among the kinds is above this shows the group only the
# stub, as a household's or a dispute's matter would. 0.1: 0.5 % of 户里事/邻里事 posts shown
# (every writer ≤ 1.3 %) while 91.3 % of registered 村里事 keep their text; 0.2 shows 1.0 %
# (one writer 2.0 %), no margin 2.3 %.
PRIVACY_MARGIN = 0.1
# The names handlers/llm.py and older callers use.
MATTER_THRESHOLD = GROUP_THRESHOLD
UNSURE_THRESHOLD = LOW_THRESHOLD

REGISTERED, TRIAGE, CHATTER = "registered", "triage", "chatter"


@dataclass(frozen=True)
class Prediction:
    label: str  # 村里事, 邻里事, 户里事 or 非事项
    confidence: float  # of that label, 0–1
    matter: float  # P(the post is a matter)
    kind: str  # the most likely of the three kinds, even when label is 非事项
    kind_confidence: float


@dataclass(frozen=True)
class Decision:
    outcome: str  # "registered", "triage" or "chatter"
    kind: str  # the kind to register under (the most likely one, also for triage and chatter)
    shown_in_group: bool  # the group would see the post's text (registered, public, kind sure)


def public_kind(p: Prediction) -> bool:
    """The post's text may be shown to the group: its kind is 村里事 and neither 户里事 nor
    邻里事 is likely (their share among the kinds is at most PRIVACY_MARGIN)."""
    kind = p.label if p.label != NOT_MATTER else p.kind
    if kind != Kind.VILLAGE.value:
        return False
    # The kinds' probabilities sum to 1: what 村里事 leaves is the private kinds' share.
    return 1.0 - p.kind_confidence <= PRIVACY_MARGIN


def decide(p: Prediction, *, private: bool) -> Decision:
    """What intake does with a post the classifier scored: registered (confident matter),
    triage (unsure: a cadre decides) or chatter, the kind, and whether the group sees its text."""
    kind = p.label if p.label != NOT_MATTER else p.kind
    if p.matter >= (LOW_THRESHOLD if private else GROUP_THRESHOLD):
        return Decision(REGISTERED, kind, not private and public_kind(p))
    if p.matter >= LOW_THRESHOLD:
        return Decision(TRIAGE, kind, False)
    return Decision(CHATTER, kind, False)


class Classifier(Protocol):
    def predict(self, text: str) -> Prediction: ...


_VILLAGE = (
    "路灯",
    "路坏",
    "路面",
    "坑",
    "桥",
    "停水",
    "自来水",
    "水管",
    "水渠",
    "灌溉",
    "停电",
    "电线",
    "变压器",
    "垃圾",
    "厕所",
    "野狗",
    "流浪狗",
    "塌方",
    "滑坡",
    "危险",
    "村口",
    "大家",
    "全村",
    "集体",
    "账目",
    "公开",
    "补偿",
    "征地",
    "建议",
    "校车",
    "修路",
    "下水道",
    "排水沟",
    "井盖",
)
_NEIGHBOUR = (
    "邻居",
    "隔壁",
    "对门",
    "宅基地",
    "地界",
    "占我",
    "占了我",
    "吵架",
    "打架",
    "他家",
    "她家",
    "他们家",
    "欠钱",
    "不还",
    "挡住",
    "堵了",
    "啃了",
    "吃了我",
    "噪音",
    "吵得",
    "砍了我",
)
_HOUSEHOLD = (
    "我家",
    "我妈",
    "我爸",
    "老人",
    "低保",
    "残疾",
    "养老",
    "赡养",
    "离婚",
    "生病",
    "住院",
    "证明",
    "户口",
    "危房",
    "上学",
    "孩子",
    "电表",
    "电费",
    "我一个人",
    "独居",
    "补助",
)
_CHATTER = (
    "收到",
    "好的",
    "谢谢",
    "感谢",
    "辛苦",
    "早上好",
    "晚上好",
    "大家好",
    "通知",
    "转发",
    "哈哈",
    "👍",
    "[强]",
    "[抱拳]",
    "点赞",
    "恭喜",
    "广告",
    "优惠",
    "扫码",
)
_PROBLEM = (
    "坏了",
    "不亮",
    "没人管",
    "怎么办",
    "咋办",
    "麻烦",
    "帮忙",
    "反映",
    "投诉",
    "问题",
    "不通",
)


def _score(text: str, words: tuple[str, ...]) -> int:
    return sum(1 for w in words if w in text)


class KeywordClassifier:
    """Counts telling words. Transparent and fast; replaced by a trained model when present."""

    def predict(self, text: str) -> Prediction:
        scores = {
            Kind.VILLAGE.value: _score(text, _VILLAGE),
            Kind.NEIGHBOUR.value: _score(text, _NEIGHBOUR) * 1.2,
            Kind.HOUSEHOLD.value: _score(text, _HOUSEHOLD),
        }
        problem = _score(text, _PROBLEM)
        chatter = _score(text, _CHATTER)
        kind = max(scores, key=lambda k: scores[k])
        total = sum(scores.values())
        kind_conf = (scores[kind] + 1) / (total + 3)
        evidence = total + problem
        if evidence == 0 or chatter > evidence:
            matter = 0.1 if chatter else 0.2
        else:
            matter = min(0.95, 0.45 + 0.15 * evidence - 0.2 * chatter)
        if matter >= 0.5:
            return Prediction(
                kind, matter * kind_conf / max(kind_conf, 0.5), matter, kind, kind_conf
            )
        return Prediction(NOT_MATTER, 1 - matter, matter, kind, kind_conf)
