"""Corrections become labeled examples; a retrain learns them; a running bot reloads."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlmodel import Session, col, select

from classifier import examples, learning
from classifier.model import MODEL_NAME, ReloadingClassifier, load_default, model_paths
from classifier.training import train, with_corrections
from storage.models import Issue, LabeledExample
from tests.classifier.conftest import FAST, tiny_examples
from tests.conftest import Chat


def kept(chat: Chat) -> list[tuple[str, str, str]]:
    with Session(chat.app.engine) as session:
        rows = session.exec(select(LabeledExample).order_by(col(LabeledExample.id))).all()
        return [(r.text, r.label, r.source) for r in rows]


def test_tag_change_and_withdrawal_are_kept(chat: Chat) -> None:
    chat.say("张大爷: 村口路灯坏了好几天了，晚上黑乎乎的")
    chat.say("张姐: 改类 1 邻里事")
    assert kept(chat) == [("村口路灯坏了好几天了，晚上黑乎乎的", "邻里事", "tag")]
    chat.say("张大爷: 撤回 1")
    assert kept(chat)[-1] == ("村口路灯坏了好几天了，晚上黑乎乎的", "非事项", "withdraw")
    with Session(chat.app.engine) as session:
        issue = session.exec(select(Issue)).one()
        row = session.exec(select(LabeledExample)).first()
        assert row is not None and row.village_id == issue.village_id


def test_record_for_registered_posts(chat: Chat) -> None:
    with Session(chat.app.engine) as session:
        assert learning.record(session, "  桥头那块石头松了  ", "村里事", "register") is not None
        assert learning.record(session, "", "村里事", "register") is None
        assert learning.record(session, "照片", "待分类", "register") is None
        at = chat.app.clock.now()
        examples.record(session, text="开个证明", label="户里事", source="admin:张姐", at=at)
        session.commit()
    assert kept(chat) == [
        ("桥头那块石头松了", "村里事", "register"),
        ("开个证明", "户里事", "admin:张姐"),
    ]


def test_retrain_picks_up_corrections(chat: Chat) -> None:
    text = "祠堂门口那块大石碑上周倒了"
    base = train(tiny_examples(), FAST)
    with Session(chat.app.engine) as session:
        for _ in range(2):
            learning.record(session, text, "非事项", "withdraw")
        session.commit()
        fixes = learning.corrections(session)
    retrained = train(with_corrections(tiny_examples(), fixes, learning.CORRECTION_WEIGHT), FAST)
    assert retrained.meta["per_source"].get("correction:withdraw") == 1  # repeats count once
    assert retrained.predict(text).matter < base.predict(text).matter
    assert retrained.predict(text).label == "非事项"


def test_running_bot_reloads_a_new_model(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    clf = load_default(data_dir, every=0)
    assert isinstance(clf, ReloadingClassifier)
    assert clf.source == model_paths(None)[0]  # nothing retrained yet: the shipped model
    shipped_answer = clf.predict("祠堂门口那块大石碑上周倒了")

    new = train(tiny_examples(), FAST)
    new.meta["marker"] = "retrained"
    new.save(data_dir / MODEL_NAME)
    p = clf.predict("祠堂门口那块大石碑上周倒了")
    assert clf.source == data_dir / MODEL_NAME and clf.model is not None
    assert clf.model.meta["marker"] == "retrained"
    assert p != shipped_answer or clf.model is not None

    newer = train(tiny_examples()[:-1] + tiny_examples()[-1:], FAST)
    newer.meta["marker"] = "again"
    newer.save(data_dir / MODEL_NAME)
    stamp = time.time() + 5  # a clearly different mtime even on coarse file systems
    os.utime(data_dir / MODEL_NAME, (stamp, stamp))
    clf.predict("收到")
    assert clf.model.meta["marker"] == "again"


def test_broken_model_file_keeps_the_old_one(tmp_path: Path) -> None:
    clf = load_default(tmp_path, every=0)
    assert isinstance(clf, ReloadingClassifier)
    before = clf.model
    (tmp_path / MODEL_NAME).write_bytes(b"not a model")
    assert clf.predict("收到").label == "非事项"
    assert clf.model is before


def test_checks_are_rate_limited(tmp_path: Path) -> None:
    clf = ReloadingClassifier(model_paths(tmp_path), every=3600)
    train(tiny_examples(), FAST).save(tmp_path / MODEL_NAME)
    clf.predict("收到")
    assert clf.source != tmp_path / MODEL_NAME  # not looked at again within the hour
    assert clf.check(force=True) and clf.source == tmp_path / MODEL_NAME
