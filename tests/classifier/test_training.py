"""`shuoshi train` and `shuoshi eval` end to end on a tiny dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from classifier.model import LinearModel
from classifier.training import evaluate, read_jsonl, split_of, train, usable
from tests.classifier.conftest import FAST, TINY, tiny_examples


def test_train_learns_the_tiny_set() -> None:
    model = train(tiny_examples(), FAST)
    report = evaluate(model, tiny_examples())
    assert report.macro_f1 >= 0.9
    assert model.platt[0] > 0 and 0.05 < model.temperature < 20


def test_model_file_round_trip(tmp_path: Path) -> None:
    model = train(tiny_examples(), FAST)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = LinearModel.load(path)
    for text in ("村口路灯坏了", "收到", "邻居占我家地"):
        a, b = model.logits(text), loaded.logits(text)
        assert np.allclose(a, b, atol=1e-2)
    assert loaded.df["收"] >= 1 and loaded.n_docs == len(tiny_examples())


def test_split_is_deterministic_and_about_a_fifth() -> None:
    texts = [f"帖子{i}" for i in range(2000)]
    dev = [t for t in texts if split_of(t) == "dev"]
    assert dev == [t for t in texts if split_of(t) == "dev"]
    assert 0.12 < len(dev) / len(texts) < 0.24


def test_tagged_posts_and_repeats_are_not_trained_on() -> None:
    from classifier.training import Example

    data = usable(
        [Example("#邻里事 路灯", "邻里事"), Example("收到", "村里事"), Example("收到", "非事项")]
    )
    assert data == [Example("收到", "非事项")]


def test_train_without_a_label_is_refused() -> None:
    with pytest.raises(ValueError, match="非事项"):
        train([e for e in tiny_examples() if e.label != "非事项"], FAST)


def test_read_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    f = tmp_path / "x.jsonl"
    f.write_text('{"text": "收到", "label": "非事项"}\n{"text": "x", "label": "别的"}\n', "utf-8")
    with pytest.raises(ValueError, match=r"x\.jsonl:2"):
        read_jsonl(f)


def test_train_and_eval_commands(
    tiny_posts: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/bot.db")
    assert main(["train", "--posts", str(tiny_posts)]) == 0
    assert "0 corrections" in capsys.readouterr().out
    model_file = tmp_path / "data" / "model.npz"
    assert LinearModel.load(model_file).meta["examples"] == sum(len(v) for v in TINY.values())

    assert main(["eval", str(tiny_posts / "part1.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "macro-F1" in out and "confusion" in out
    for label in TINY:
        assert label in out
