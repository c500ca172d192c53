"""Labeled examples: the deployment's corrections kept for training (classifier.learning
decides what is kept; `shuoshi train` reads them all)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import LabeledExample


def add_example(
    *,
    session: Session,
    text: str,
    label: str,
    source: str,
    created_at: datetime,
    village_id: int | None = None,
) -> LabeledExample:
    """One labeled example, added to the session (written with its transaction)."""
    row = LabeledExample(
        text=text,
        label=label,
        source=source,
        created_at=created_at,
        village_id=village_id,
    )
    session.add(row)
    return row


def all_examples(*, session: Session) -> list[LabeledExample]:
    """Every kept example, oldest first."""
    return list(session.exec(select(LabeledExample).order_by(col(LabeledExample.id))).all())


__all__ = ["add_example", "all_examples"]
