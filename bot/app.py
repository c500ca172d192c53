"""The composition root: settings → database → grid → decisions → platforms. Nothing else wires."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.config import Settings
from handlers.classifier import Classifier, KeywordClassifier
from handlers.clock import Clock, SystemClock
from handlers.deps import Deps
from scheduler.sender import Sender, Transport
from storage.db import make_engine, upgrade
from storage.grid import Grid, load_grid, sync_grid

log = logging.getLogger(__name__)


def load_classifier() -> Classifier:
    """The trained model when one ships, else the keyword baseline."""
    try:
        from handlers.model import load_default  # type: ignore[attr-defined]
    except ImportError:
        return KeywordClassifier()
    model: Classifier | None = load_default()
    return model or KeywordClassifier()


@dataclass
class App:
    settings: Settings
    engine: Engine
    grid: Grid
    clock: Clock
    deps: Deps
    transports: dict[str, Transport] = field(default_factory=dict)

    def sender(self) -> Sender:
        return Sender(self.engine, self.clock, self.transports, self.settings.outbox_max_tries)


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    database_url: str | None = None,
    migrate: bool = True,
    classifier: Classifier | None = None,
) -> App:
    grid = load_grid(settings.grid_file)
    engine = make_engine(database_url or settings.database_url)
    if migrate:
        upgrade(engine)
    with Session(engine) as session:
        sync_grid(session, grid)
        session.commit()
    clock = clock or SystemClock(grid.timezone)
    deps = Deps(grid=grid, clock=clock, classifier=classifier or load_classifier())
    return App(settings=settings, engine=engine, grid=grid, clock=clock, deps=deps)
