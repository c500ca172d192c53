"""The causes issue 15 names, fixed in the features: no length jump, digits and Latin letters
neutral, emoji and politeness not chatter, and the dataset's writers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier.base import GROUP_THRESHOLD
from classifier.model import SHIPPED, LinearModel
from classifier.normalize import NEUTRAL, grams, normalize, unwrap, view
from classifier.training import dataset, read_jsonl, train
from tests.classifier.conftest import FAST, tiny_examples


@pytest.fixture(scope="module")
def model() -> LinearModel:
    return LinearModel.load(SHIPPED)


def test_no_length_feature() -> None:
    for n in range(1, 80):
        _, feats = view(normalize("路" * n))
        assert not any(f.startswith("\x01len") for f in feats)


def test_emoji_and_emoticons_change_nothing(model: LinearModel) -> None:
    plain = "村口路灯坏了"
    for decorated in ("村口路灯坏了😭😭", "[捂脸]村口路灯坏了[捂脸]", "🙏村口路灯坏了👍"):
        assert view(normalize(decorated)) == view(normalize(plain))
        assert model.logits(decorated) == model.logits(plain)


def test_greeting_and_thanks_around_a_post_change_nothing(model: LinearModel) -> None:
    plain = "三组的水管爆了，水流了一地"
    for wrapped in (
        "大家好，三组的水管爆了，水流了一地，谢谢",
        "书记好！三组的水管爆了，水流了一地，麻烦了🙏",
        "不好意思打扰了[可怜] 三组的水管爆了，水流了一地，辛苦辛苦[抱拳]",
    ):
        assert model.logits(wrapped) == model.logits(plain), wrapped


def test_politeness_alone_stays_what_it_is() -> None:
    assert unwrap(normalize("谢谢书记")) == "谢谢书记"
    assert unwrap(normalize("好的，谢谢")) == "好的 谢谢"
    assert unwrap(normalize("大家好")) == "大家好"
    assert unwrap(normalize("早上停水了")) == "早上停水了"  # 早 of 早上 is not a greeting
    assert "\x01nowords" in view(normalize("👍👍👍"))[1]


def test_digits_and_latin_letters_are_one_neutral_token(model: LinearModel) -> None:
    core, _ = view(normalize("3栋502，联系人139XXXX6621，户号SN2231"))
    assert core == "0栋0 联系人0 户号0"
    assert NEUTRAL not in grams(core)
    a = model.logits("5组路灯坏了")
    b = model.logits("15组路灯坏了")
    assert a == b


def test_addresses_and_numbers_leave_a_matter_registered(model: LinearModel) -> None:
    for text in (
        "二组路灯坏了，晚上黑",
        "村口的桥裂了，很危险",
        "我家房子漏雨成危房了，想申请补助",
    ):
        for numbers in ("，3栋502", "，电话13912345678", "，户号SN2231，486元"):
            assert model.predict(text + numbers).matter >= GROUP_THRESHOLD, text + numbers


def write(path: Path, rows: list[dict[str, str]], end: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + end, "utf-8")


def test_dataset_takes_every_writer_but_never_frozen_or_heldout(tmp_path: Path) -> None:
    row = {"text": "路灯坏了", "label": "村里事", "style": "terse"}
    write(tmp_path / "part1.jsonl", [row])
    write(tmp_path / "part3.jsonl", [row | {"text": "收到"}])
    write(tmp_path / "heldout.jsonl", [row | {"text": "heldout"}])
    write(tmp_path / "frozen" / "f1.jsonl", [row | {"text": "frozen", "writer": "f1"}])
    write(tmp_path / "writers" / "w01.jsonl", [row | {"text": "桥断了", "writer": "w01"}])
    # a writer's file still being written: its last line is cut short
    (tmp_path / "writers" / "w02.jsonl").write_text(
        json.dumps(row | {"text": "水停了", "writer": "w02"}, ensure_ascii=False)
        + '\n{"text": "半行',
        "utf-8",
    )
    data = dataset(tmp_path)
    assert [(e.text, e.writer) for e in data] == [
        ("路灯坏了", "A"),
        ("收到", "C"),
        ("桥断了", "w01"),
        ("水停了", "w02"),
    ]


def test_a_bad_line_inside_a_file_still_fails(tmp_path: Path) -> None:
    f = tmp_path / "w.jsonl"
    f.write_text('{"text": "半行\n{"text": "收到", "label": "非事项"}\n', "utf-8")
    with pytest.raises(ValueError, match=r"w\.jsonl:1"):
        read_jsonl(f)


def test_a_small_model_trains_on_the_new_features() -> None:
    m = train(tiny_examples(), FAST)
    assert m.predict("大家好，村口路灯坏了好几天，晚上黑乎乎的，谢谢🙏").label == "村里事"
