"""`shuoshi run`: the admin, the sender loop and whichever platforms are configured."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import uvicorn
from fastapi import FastAPI

from bot.app import App, build, settle
from handlers.intake import resume_pending
from ports.settings import Settings

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)
SEND_INTERVAL = 1.0


async def _sender_loop(app: object) -> None:
    from bot.app import App
    from scheduler.sender import Sender

    assert isinstance(app, App)
    # Built from the settings (rate limits, lease, retries); run_forever keeps going through
    # database outages and gives back unstarted rows when cancelled.
    sender = Sender.from_settings(app.engine, app.clock, app.transports, app.settings)
    await sender.run_forever()


def _telegram(app: App, web: FastAPI) -> AbstractAsyncContextManager[object]:
    """Telegram when TELEGRAM_BOT_TOKEN is set: polling, or a webhook route on the admin app."""
    if not app.settings.telegram_bot_token:
        return contextlib.nullcontext()
    from bot.telegram import running

    return running(app, web)


def _wechat(app: App) -> AbstractAsyncContextManager[object]:
    """WeChat through the Wechaty gateway when WECHATY_PUPPET_SERVICE_ENDPOINT is set."""
    if not app.settings.wechaty_puppet_service_endpoint:
        return contextlib.nullcontext()
    from bot.wechat import serving

    return serving(app)


def _start_jobs(app: App) -> AsyncIOScheduler:
    """Reminders, 督办, escalation, to-dos, digests: APScheduler sweeps the database every
    minute (all state is in the database, see scheduler/jobs.py)."""
    from scheduler.jobs import start_scheduler

    return start_scheduler(app)


def serve(settings: Settings) -> int:
    app = build(settings)
    resumed = resume_pending(app.engine, app.deps)
    if resumed:
        log.info("resumed %d messages recorded before a stop", resumed)
    from admin.app import create_app, welcome

    web = create_app(app)
    settle()
    config = uvicorn.Config(  # log_config=None: uvicorn's lines go through bot/logs.py (JSON)
        web,
        host=settings.admin_host,
        port=settings.admin_port,
        log_level="info",
        log_config=None,
        # Forwarded headers are believed by the admin itself, from ADMIN_TRUSTED_PROXIES only
        # (admin/security.py): uvicorn would believe any caller on 127.0.0.1.
        proxy_headers=False,
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        wechat = _wechat(app)
        sender = asyncio.create_task(_sender_loop(app))
        jobs = _start_jobs(app)
        log.info("说事 running: %s", welcome(app))
        try:
            async with _telegram(app, web), wechat:
                await server.serve()
        finally:
            sender.cancel()
            jobs.shutdown(wait=False)

    asyncio.run(main())
    return 0
