"""The composition root: settings → database → grid → decisions → platforms. Nothing else wires."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from handlers.classifier import Classifier, KeywordClassifier
from handlers.clock import Clock, SystemClock
from handlers.deps import Deps
from handlers.duplicates import TextDuplicates
from ports.settings import Settings
from scheduler.sender import Sender, Transport
from storage.db import make_engine, startup_lock, upgrade
from storage.grid import Grid, load_grid, sync_grid

log = logging.getLogger(__name__)


def load_classifier(settings: Settings | None = None) -> Classifier:
    """The trained model (the deployment's retrained DATA_DIR/model.npz preferred over the
    shipped one, reloaded when it changes), else the keyword baseline; with LLM_BASE_URL and
    LLM_MODEL set, an LLM's second opinion on the posts it is unsure of."""
    from handlers.model import load_default

    settings = settings or Settings()
    model: Classifier = load_default(settings.data_dir) or KeywordClassifier()
    if settings.llm_base_url and settings.llm_model:
        from handlers.llm import SecondOpinion

        model = SecondOpinion(
            model, settings.llm_base_url, settings.llm_api_key, settings.llm_model
        )
    return model


@dataclass
class App:
    settings: Settings
    engine: Engine
    grid: Grid
    clock: Clock
    deps: Deps
    transports: dict[str, Transport] = field(default_factory=dict)
    # What the admin's 状态 page shows, kept up to date by whoever knows it, e.g.
    # status["telegram"] = {"mode": "polling", "state": "connected", "at": datetime},
    # status["wechat"] = {"state": "scan", "qr": url}, status["jobs"] = {name: {"last_run": …}}.
    status: dict[str, dict[str, Any]] = field(default_factory=dict)

    def sender(self) -> Sender:
        return Sender.from_settings(self.engine, self.clock, self.transports, self.settings)


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
        startup_lock(session.connection())
        sync_grid(session, grid)
        session.commit()
    clock = clock or SystemClock(grid.timezone)
    classifier = classifier or load_classifier(settings)
    deps = Deps(grid=grid, clock=clock, classifier=classifier)
    deps.duplicates = TextDuplicates.for_classifier(getattr(classifier, "local", classifier))
    return App(settings=settings, engine=engine, grid=grid, clock=clock, deps=deps)


def settle() -> None:
    """Once a long-running process has built what it keeps (the app, the admin, the model,
    SQLAlchemy's mappers and gRPC's descriptors: some 130,000 objects), leave them out of the
    cyclic garbage collector's full passes: each pass walked them all, 30–50 ms at a time in the
    middle of answering (bench/wechat.py)."""
    gc.collect()
    gc.freeze()
