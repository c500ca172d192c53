"""The runtime root: the one place that builds and wires.

`build` makes the runtime once: settings → database → grid → clock → the decisions'
dependencies (classifier, duplicate finder, directory) → the local platform's transport when it
is served. `build_doors` builds the platform doors the settings configure (Telegram, WeChat),
`running` opens a door with the sender the root builds from the door's transport and its
platform's limits; bot/serve.py runs it all with the scheduler and the admin. Nothing else
constructs a sender or a door.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.asr import transcriber
from classifier.base import Classifier, KeywordClassifier
from classifier.duplicates import TextDuplicates
from handlers.clock import Clock, SystemClock
from handlers.deps import Deps
from ports.asr import SpeechToText
from ports.doors import Door, PlatformLimits, Transport, opened
from ports.settings import Settings
from scheduler.sender import Sender, SenderConfig
from storage.db import make_engine, startup_lock, upgrade
from storage.grid import Grid, load_grid, sync_grid

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.telegram import TelegramDoor
    from bot.wechat import WechatBot
    from bot.wechat_client import ClientOptions

log = logging.getLogger(__name__)
D = TypeVar("D", bound=Door)


def load_classifier(settings: Settings | None = None) -> Classifier:
    """The trained model (the deployment's retrained DATA_DIR/model.npz preferred over the
    shipped one, reloaded when it changes), else the keyword baseline; with LLM_BASE_URL and
    LLM_MODEL set, an LLM's second opinion on the posts it is unsure of."""
    from classifier.model import load_default

    settings = settings or Settings()
    model: Classifier = load_default(settings.data_dir) or KeywordClassifier()
    if settings.llm_base_url and settings.llm_model:
        from classifier.llm import SecondOpinion

        model = SecondOpinion(
            model, settings.llm_base_url, settings.llm_api_key, settings.llm_model
        )
    return model


@dataclass
class App:
    """The built runtime (ports.runtime.Runtime)."""

    settings: Settings
    engine: Engine
    grid: Grid
    clock: Clock
    deps: Deps
    # The platforms `sender()` delivers, with their limits: the local platform's when it is
    # served (each door runs a sender of its own, see `running`).
    transports: dict[str, Transport] = field(default_factory=dict)
    limits: dict[str, PlatformLimits] = field(default_factory=dict)
    # What the admin's 状态 page shows, kept up to date by whoever knows it, e.g.
    # status["telegram"] = {"mode": "polling", "state": "connected", "at": datetime},
    # status["wechat"] = {"state": "scan", "qr": url}, status["jobs"] = {name: {"last_run": …}}.
    status: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Speech to text for the doors' voice messages (bot.asr); None: off (ASR_* unset).
    asr: SpeechToText | None = None

    def sender(self) -> Sender:
        """A sender for `transports` (`shuoshi run` runs one; scripts and the web chat flush
        their own)."""
        return self._sender(self.transports, self.limits)

    def door_sender(self, door: Door) -> Sender:
        """The sender of a door's rows: its transport, its platform's limits."""
        return self._sender({door.platform: door.transport}, {door.platform: door.limits})

    def _sender(
        self, transports: dict[str, Transport], limits: Mapping[str, PlatformLimits]
    ) -> Sender:
        config = SenderConfig.from_settings(self.settings)
        return Sender(self.engine, self.clock, transports, config=config, limits=limits)


def serves_local(settings: Settings) -> bool:
    """Whether the local platform (the admin's 模拟群聊 page) is served: it speaks as anyone in
    the grid, so only where no real platform is configured, unless ADMIN_CHAT says otherwise."""
    if settings.admin_chat is not None:
        return settings.admin_chat
    return not (settings.telegram_bot_token or settings.wechaty_puppet_service_endpoint)


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    database_url: str | None = None,
    migrate: bool = True,
    classifier: Classifier | None = None,
    local: bool | None = None,
) -> App:
    """The runtime. `local`: serve the local platform (None: as `serves_local` says; scripts
    and the console always do)."""
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
    deps = Deps(grid=grid, clock=clock, classifier=classifier)  # with its directory cache
    deps.duplicates = TextDuplicates.for_classifier(getattr(classifier, "local", classifier))
    app = App(settings=settings, engine=engine, grid=grid, clock=clock, deps=deps)
    app.asr = transcriber(settings)
    # 说事码 reports: the person has no chat; a row "sent" to them is shown on their tracking page.
    from admin.report_transport import ReportTransport

    app.transports[ReportTransport.platform] = ReportTransport()
    if serves_local(settings) if local is None else local:
        from bot.local import LIMITS, PLATFORM, LocalTransport

        app.transports[PLATFORM] = LocalTransport(clock)
        app.limits[PLATFORM] = LIMITS
    return app


# --- doors ------------------------------------------------------------------------------------


def telegram_door(app: App, web: FastAPI | None = None) -> TelegramDoor:
    """The Telegram door; with TELEGRAM_WEBHOOK_URL its route is mounted on `web`, the admin."""
    from bot.telegram import TelegramDoor, mount_webhook

    door = TelegramDoor(app)
    door.asr = app.asr
    if door.webhook_url:
        if web is None:
            raise ValueError("TELEGRAM_WEBHOOK_URL needs the admin app to mount the route on")
        mount_webhook(web, door)
    return door


def wechat_door(app: App, options: ClientOptions | None = None) -> WechatBot:
    """The WeChat door, through the Wechaty gateway (`options`: the settings' by default)."""
    from bot.wechat import WechatBot

    door = WechatBot(app, options)
    door.asr = app.asr
    return door


def build_doors(app: App, web: FastAPI | None = None) -> list[Door]:
    """The platform doors the settings configure: Telegram when TELEGRAM_BOT_TOKEN is set
    (polling, or a webhook route on `web`), WeChat when WECHATY_PUPPET_SERVICE_ENDPOINT is."""
    settings = app.settings
    doors: list[Door] = []
    if settings.telegram_bot_token:
        doors.append(telegram_door(app, web))
    if settings.wechaty_puppet_service_endpoint:
        if settings.wechaty_puppet_service_token:
            doors.append(wechat_door(app))
        else:
            log.error("WeChat: WECHATY_PUPPET_SERVICE_TOKEN is not set; WeChat is not served")
    return doors


def running(app: App, door: D) -> AbstractAsyncContextManager[D]:
    """The door serving while the context is open, with the sender of its rows."""
    return opened(door, app.door_sender(door))


def freeze_startup_objects() -> None:
    """Once a long-running process has built what it keeps (the app, the admin, the doors, the
    model, SQLAlchemy's mappers and gRPC's descriptors: some 130,000 objects), leave them out of
    the cyclic garbage collector's full passes: each pass walked them all, 30–50 ms at a time in
    the middle of answering (bench/wechat.py)."""
    gc.collect()
    gc.freeze()
