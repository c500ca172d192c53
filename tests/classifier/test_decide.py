"""The group's decision (issue 15): registered, triage or chatter, and when the text is shown."""

from __future__ import annotations

import pytest

from classifier.base import (
    GROUP_THRESHOLD,
    LOW_THRESHOLD,
    MATTER_THRESHOLD,
    PRIVACY_MARGIN,
    UNSURE_THRESHOLD,
    Decision,
    Prediction,
    decide,
    public_kind,
)


def pred(matter: float, kind: str = "村里事", kind_conf: float = 0.95) -> Prediction:
    label = kind if matter >= 0.5 else "非事项"
    conf = matter * kind_conf if label != "非事项" else 1 - matter
    return Prediction(label, conf, matter, kind, kind_conf)


def test_thresholds_are_ordered_and_keep_their_old_names() -> None:
    assert 0 < LOW_THRESHOLD < GROUP_THRESHOLD < 1
    assert (MATTER_THRESHOLD, UNSURE_THRESHOLD) == (GROUP_THRESHOLD, LOW_THRESHOLD)
    assert 0 < PRIVACY_MARGIN < 0.5


def test_three_outcomes_in_a_group() -> None:
    assert decide(pred(GROUP_THRESHOLD), private=False) == Decision("registered", "村里事", True)
    assert decide(pred(0.99), private=False).outcome == "registered"
    mid = (GROUP_THRESHOLD + LOW_THRESHOLD) / 2
    assert decide(pred(mid), private=False) == Decision("triage", "村里事", False)
    assert decide(pred(LOW_THRESHOLD), private=False).outcome == "triage"
    assert decide(pred(LOW_THRESHOLD - 0.01), private=False).outcome == "chatter"
    assert decide(pred(0.0), private=False) == Decision("chatter", "村里事", False)


def test_in_private_the_low_threshold_registers_and_nothing_is_shown() -> None:
    mid = (GROUP_THRESHOLD + LOW_THRESHOLD) / 2
    assert decide(pred(mid), private=True) == Decision("registered", "村里事", False)
    assert decide(pred(0.99), private=True).shown_in_group is False
    assert decide(pred(LOW_THRESHOLD - 0.01), private=True).outcome == "chatter"


@pytest.mark.parametrize("kind", ["户里事", "邻里事"])
def test_household_and_dispute_text_never_shown(kind: str) -> None:
    d = decide(pred(0.99, kind, 1.0), private=False)
    assert d == Decision("registered", kind, False)


def test_village_matter_with_a_likely_private_kind_shows_only_the_stub() -> None:
    sure = pred(0.9, "村里事", 1 - PRIVACY_MARGIN)
    assert decide(sure, private=False).shown_in_group
    unsure = pred(0.9, "村里事", 1 - PRIVACY_MARGIN - 0.05)
    assert decide(unsure, private=False) == Decision("registered", "村里事", False)
    assert not public_kind(unsure)


def test_kind_of_an_unsure_post_is_its_most_likely_kind() -> None:
    p = Prediction("非事项", 0.6, 0.4, "户里事", 0.7)
    assert decide(p, private=False).kind == "户里事"


def test_explicit_tag_prediction_registers_under_its_kind() -> None:
    tag = Prediction("村里事", 1.0, 1.0, "村里事", 1.0)
    assert decide(tag, private=False) == Decision("registered", "村里事", True)
    tag = Prediction("户里事", 1.0, 1.0, "户里事", 1.0)
    assert decide(tag, private=False) == Decision("registered", "户里事", False)
