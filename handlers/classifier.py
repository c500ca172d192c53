"""Is a post a matter, and of which kind. The interface every classifier serves.

`KeywordClassifier` is the first, transparent baseline; a trained model replaces it where one ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from storage.models import NOT_MATTER, Kind

# A post is registered when P(matter) ≥ MATTER_THRESHOLD; between the two it is kept as an
# unregistered post for a cadre to look at (precision first: the group must not be spammed).
MATTER_THRESHOLD = 0.6
UNSURE_THRESHOLD = 0.35


@dataclass(frozen=True)
class Prediction:
    label: str  # 村里事, 邻里事, 户里事 or 非事项
    confidence: float  # of that label, 0–1
    matter: float  # P(the post is a matter)
    kind: str  # the most likely of the three kinds, even when label is 非事项
    kind_confidence: float


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
