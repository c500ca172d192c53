"""Small labeled posts written for these tests, and a fast training configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier.training import Config, Example

TINY: dict[str, list[str]] = {
    "村里事": [
        "村口路灯坏了好几天，晚上黑乎乎的",
        "三组停水两天了，自来水一滴都没有",
        "去镇上的路塌了一大块，车过不去",
        "垃圾池满了一个礼拜没人拉，臭得很",
        "建议在小学门口装个减速带",
        "桥上的护栏断了，娃娃上学危险",
    ],
    "邻里事": [
        "隔壁老王家的鸡天天跑我菜地里刨",
        "邻居盖房占了我家宅基地半米",
        "对门把脏水排到我家院子里，说了不听",
        "老李借我两千块钱三年不还",
        "邻居家的狗咬了我孙子，药费不给",
        "他家的树挡了我家田里的太阳，叫他砍他不砍",
    ],
    "户里事": [
        "我妈八十多了一个人住，想申请低保",
        "我家房子漏雨成危房了，能不能补助",
        "想给孩子开个在村居住证明上学用",
        "我儿子不管我，不给赡养费",
        "我家电表这个月走得特别快",
        "老伴住院花了好几万，家里困难",
    ],
    "非事项": [
        "收到",
        "好的，谢谢书记",
        "早上好[抱拳]",
        "👍👍👍",
        "恭喜老张家孙子考上大学",
        "通知：明天上午九点在村部开会，请各户派一人参加",
    ],
}


def tiny_examples() -> list[Example]:
    return [Example(t, label) for label, texts in TINY.items() for t in texts]


FAST = Config(iters=120, folds=3)


@pytest.fixture
def tiny_posts(tmp_path: Path) -> Path:
    """A posts folder in the dataset's format, with the tiny set as its only part."""
    folder = tmp_path / "posts"
    folder.mkdir()
    lines = [
        json.dumps({"text": t, "label": label, "style": "test"}, ensure_ascii=False)
        for label, texts in TINY.items()
        for t in texts
    ]
    (folder / "part1.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
