"""Learning from the deployment's corrections.

Every correction a person makes is kept as a labeled example (`LabeledExample`):
- a /tag (改类) that changes a matter's kind: the issue's text with the new kind (source "tag");
- an unregistered post registered by a cadre: the post with its kind (source "register", or
  "admin:NAME" from the admin pages, which call `record` through `classifier.examples`);
- a withdrawn issue: its text as 非事项 (source "withdraw").
`shuoshi train` adds them to the dataset (weighted `CORRECTION_WEIGHT`, the latest label of a
text wins over the dataset's) and writes data_dir/model.npz, which a running bot picks up
(`classifier.model.ReloadingClassifier`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from storage import examples
from storage.models import KINDS, NOT_MATTER, Issue, LabeledExample

LABELS = (*(k.value for k in KINDS), NOT_MATTER)
CORRECTION_WEIGHT = 3.0  # a deployment's own correction counts as much as three dataset posts
MAX_TEXT = 2000


def record(
    session: Session,
    text: str,
    label: str,
    source: str,
    *,
    village_id: int | None = None,
    at: datetime | None = None,
) -> LabeledExample | None:
    """Keep one labeled example; None (nothing kept) for an empty text or a label that is not
    one of the four (待分类 teaches nothing)."""
    text = (text or "").strip()[:MAX_TEXT]
    label = str(label)
    if not text or label not in LABELS:
        return None
    return examples.add_example(
        session=session,
        text=text,
        label=label,
        source=source,
        created_at=at or datetime.now(UTC),
        village_id=village_id,
    )


def record_issue(
    session: Session, issue: Issue, label: str, source: str, at: datetime | None = None
) -> LabeledExample | None:
    """The issue's text as an example of `label` (a /tag change, a withdrawal)."""
    return record(session, issue.text, label, source, village_id=issue.village_id, at=at)


def corrections(session: Session) -> list[tuple[str, str, str]]:
    """(text, label, source) of every kept example, oldest first (a later one wins)."""
    rows = examples.all_examples(session=session)
    return [(r.text, r.label, r.source) for r in rows]
