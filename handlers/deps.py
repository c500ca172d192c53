"""What the decision code needs from outside, handed in by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from classifier.base import Classifier, KeywordClassifier
from handlers.clock import Clock
from handlers.directory import GridCache
from storage.grid import Grid
from storage.models import Issue


class DuplicateFinder(Protocol):
    def keys(self, text: str) -> dict[str, str | None]:
        """Columns a new issue stores for later lookups (Issue.topic, Issue.groups)."""
        ...

    def find(
        self, session: Session, *, village_id: int, text: str, kind: str, now: datetime
    ) -> Issue | None: ...


@dataclass
class Deps:
    grid: Grid
    clock: Clock
    classifier: Classifier = field(default_factory=KeywordClassifier)
    duplicates: DuplicateFinder | None = None
    directory: GridCache = field(default_factory=GridCache)
