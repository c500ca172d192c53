"""The shipped model: loads, answers the four labels on clear posts, `shuoshi classify`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli import main
from classifier.base import Prediction
from classifier.model import SHIPPED, LinearModel, load_default
from classifier.normalize import cues, grams, normalize, view

CLEAR = {
    "村里事": [
        "村口那盏路灯坏了好几天了，晚上黑乎乎的没人管",
        "我们组停水三天了，自来水一滴都没有，啥时候来水",
        "建议村里在学校门口装个减速带，车开太快了",
    ],
    "邻里事": [
        "隔壁老刘家的鸭子天天跑我田里吃秧苗，说了他也不管",
        "邻居盖新房把墙砌到我家宅基地上了，占了快一米",
    ],
    "户里事": [
        "我爸八十多了一个人在家，腿脚不好，想申请个低保",
        "我家老房子漏雨漏得厉害，想问下危房改造怎么申请",
    ],
    "非事项": ["收到", "好的，谢谢书记[抱拳]", "大家早上好🌹🌹", "恭喜老王家添了个大胖孙子"],
}


@pytest.fixture(scope="module")
def model() -> LinearModel:
    assert SHIPPED.exists(), "classifier/model_data/model.npz ships with the code"
    return LinearModel.load(SHIPPED)


def test_shipped_model_loads_and_is_small(model: LinearModel) -> None:
    assert SHIPPED.stat().st_size < 20 * 1024 * 1024
    assert model.kinds == ["村里事", "邻里事", "户里事"]
    assert model.meta["examples"] > 1000
    assert load_default(None) is not None


@pytest.mark.parametrize("label", list(CLEAR))
def test_clear_posts_get_their_label(model: LinearModel, label: str) -> None:
    for text in CLEAR[label]:
        p = model.predict(text)
        assert p.label == label, (text, p)
        assert 0.0 <= p.matter <= 1.0 and 0.0 <= p.kind_confidence <= 1.0


def test_matters_are_sure_enough_to_register(model: LinearModel) -> None:
    from classifier.base import MATTER_THRESHOLD

    for label in ("村里事", "邻里事", "户里事"):
        for text in CLEAR[label]:
            assert model.predict(text).matter >= MATTER_THRESHOLD, text
    for text in CLEAR["非事项"]:
        assert model.predict(text).matter < 0.35, text


def test_explicit_tag_wins(model: LinearModel) -> None:
    assert model.predict("#邻里事 村口路灯坏了") == Prediction("邻里事", 1.0, 1.0, "邻里事", 1.0)
    assert model.predict("【户里事】收到").label == "户里事"


def test_styles_normalise_alike() -> None:
    assert normalize("這個路燈壞咗，冇人理！！") == normalize("这个路灯坏了,没人理!")
    assert normalize("１２３號[捂脸][捂脸]😂😂") == "0号◎☺"
    assert "\x01problem" in cues(normalize("路灯不亮"))
    assert "\x02收到" in grams(view(normalize("收到"))[0])


def test_empty_and_odd_posts_do_not_fail(model: LinearModel) -> None:
    for text in ["", " ", "？？？", "a" * 5000, "🙏", "\x00"]:
        assert model.predict(text).label in ("村里事", "邻里事", "户里事", "非事项")


def test_classify_command_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    lines = [{"text": "村口路灯坏了好几天了，晚上黑乎乎的"}, {"text": "收到"}]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\nnot json\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["classify"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out[0]["label"] == "村里事" and out[1]["label"] == "非事项"
    assert "error" in out[2]


def test_fast_path_matches_the_training_features(model: LinearModel) -> None:
    from classifier.normalize import MAX_CHARS

    texts = ["村口路灯坏了", "收到", "a", "", "隔壁 老王, 占我地！！", "长" * (MAX_CHARS + 50)]
    for text in [*texts, "大家好，3组502号路灯坏了😭谢谢", "0", "好的👍"]:
        core, _ = view(normalize(text))
        expected = {
            model.index[g] for g in grams(core, model.max_n, model.min_n) if g in model.index
        }
        assert model._rows(core) == expected
