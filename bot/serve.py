"""`shuoshi run`: the admin, the sender loop and whichever platforms are configured."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from bot.app import build
from bot.config import Settings
from handlers.intake import resume_pending

log = logging.getLogger(__name__)
SEND_INTERVAL = 1.0


async def _sender_loop(app: object) -> None:
    from bot.app import App

    assert isinstance(app, App)
    sender = app.sender()
    while True:
        try:
            await sender.flush()
        except Exception:  # keep sending whatever one failure was
            log.exception("sender loop")
        await asyncio.sleep(SEND_INTERVAL)


def serve(settings: Settings) -> int:
    app = build(settings)
    resumed = resume_pending(app.engine, app.deps)
    if resumed:
        log.info("resumed %d messages recorded before a stop", resumed)
    from admin.app import create_app

    web = create_app(app)
    config = uvicorn.Config(
        web, host=settings.admin_host, port=settings.admin_port, log_level="info"
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        sender = asyncio.create_task(_sender_loop(app))
        log.info("说事 running: admin at http://%s:%d", settings.admin_host, settings.admin_port)
        try:
            await server.serve()
        finally:
            sender.cancel()

    asyncio.run(main())
    return 0
