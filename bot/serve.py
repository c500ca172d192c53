"""`shuoshi run`, the one serve: the runtime, the admin, the doors the settings configure, the
scheduler, and the sender of the platforms without a door of their own (the web chat)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import uvicorn

from bot.app import build, build_doors, freeze_startup_objects, running
from handlers.intake import resume_pending
from ports.settings import Settings

log = logging.getLogger(__name__)


def shuoshi_command() -> str:
    """How an operator types the command here: `shuoshi` where it is on the PATH (the container,
    systemd, `make shell`), else its path (`.venv/bin/shuoshi` after `make run`)."""
    script = Path(sys.executable).parent / "shuoshi"
    found = shutil.which("shuoshi")
    if not script.exists() or (found and Path(found).resolve() == script.resolve()):
        return "shuoshi"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def serve(settings: Settings) -> int:
    app = build(settings)
    resumed = resume_pending(app.engine, app.deps)
    if resumed:
        log.info("resumed %d messages recorded before a stop", resumed)
    from admin.app import create_app, welcome
    from ops import metrics
    from scheduler.jobs import start_scheduler

    web = create_app(app)
    metrics.mount(web, app)  # GET /metrics (Prometheus), beside the admin
    doors = build_doors(app, web)
    freeze_startup_objects()
    config = uvicorn.Config(  # log_config=None: uvicorn's lines go through ops/logs.py (JSON)
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
        # Built from the settings (lease, retries; the local platform has no limits);
        # run_forever keeps going through database outages and gives back unstarted rows
        # when cancelled.
        sender = asyncio.create_task(app.sender().run_forever())
        # Reminders, 督办, escalation, to-dos, digests: APScheduler sweeps the database every
        # minute (all state is in the database, see scheduler/jobs.py).
        jobs = start_scheduler(app)
        log.info("说事 running: %s", welcome(app, shuoshi_command()))
        try:
            async with AsyncExitStack() as stack:
                for door in doors:
                    await stack.enter_async_context(running(app, door))
                await server.serve()
        finally:
            sender.cancel()
            jobs.shutdown(wait=False)

    asyncio.run(main())
    return 0
