"""The `shuoshi` command."""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
from datetime import datetime
from pathlib import Path

from bot.config import Settings

log = logging.getLogger("shuoshi")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shuoshi", description="说事：村里说事群的事项登记与跟进")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the bot (embedded default without platform credentials)")
    chat = sub.add_parser("chat", help="run a scenario script, or a REPL, on the local platform")
    chat.add_argument("--script", type=Path, help="script file (default: read lines from stdin)")
    chat.add_argument("--db", help="database URL (default: a fresh temporary SQLite file)")
    sub.add_parser("classify", help='label JSON lines {"text": …} from stdin')
    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "current"])
    bind = sub.add_parser("bind-code", help="print a one-time code a cadre sends as /bind CODE")
    bind.add_argument("name")
    bind.add_argument("--village", help="when the name exists in several villages")
    args = parser.parse_args(argv)
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](settings, args)
    except Exception as exc:
        from storage.grid import GridError

        if isinstance(exc, GridError):
            print(str(exc), file=sys.stderr)
            return 2
        raise


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.serve import serve

    return serve(settings)


def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    import tempfile

    from bot import app as app_module
    from bot.local import ScriptError, ScriptRunner, first_time, grid_line
    from handlers.clock import FakeClock
    from storage.grid import load_grid

    lines = args.script.read_text(encoding="utf-8").splitlines() if args.script else None
    grid_file = grid_line(lines) if lines else None
    if grid_file:
        settings = settings.model_copy(update={"grid_file": Path(grid_file)})
    grid = load_grid(settings.grid_file)
    start = (first_time(lines) if lines else None) or datetime.now().replace(
        second=0, microsecond=0
    )
    clock = FakeClock(start, grid.timezone)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{tmp}/chat.db"
        app = app_module.build(settings, clock=clock, database_url=url)
        from scheduler.jobs import make_ticker

        runner = ScriptRunner(app, on_tick=make_ticker(app))
        printed = 0

        def flush_out() -> None:
            nonlocal printed
            for line in runner.lines[printed:]:
                print(line)
            printed = len(runner.lines)

        async def go() -> int:
            if lines is not None:
                for number, line in enumerate(lines, 1):
                    try:
                        await runner.run_line(line, number)
                    except ScriptError as exc:
                        flush_out()
                        print(str(exc), file=sys.stderr)
                        return 2
                    flush_out()
                return 0
            for number, line in enumerate(sys.stdin, 1):
                try:
                    await runner.run_line(line, number)
                except ScriptError as exc:
                    print(str(exc), file=sys.stderr)
                flush_out()
            return 0

        code = asyncio.run(go())
        app.engine.dispose()
        return code


def cmd_classify(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import load_classifier

    classifier = load_classifier()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            text = str(obj["text"])
        except (ValueError, KeyError, TypeError):
            print(
                json.dumps({"error": '需要 JSON 行，如 {"text": "路灯坏了"}'}, ensure_ascii=False)
            )
            continue
        p = classifier.predict(text)
        obj["label"] = p.label
        obj["confidence"] = round(p.confidence, 4)
        print(json.dumps(obj, ensure_ascii=False))
    return 0


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    from storage.db import current_revision, head_revision, make_engine, upgrade

    engine = make_engine(settings.database_url)
    if args.action == "upgrade":
        upgrade(engine)
    print(f"database at revision {current_revision(engine)} (head {head_revision()})")
    return 0


def cmd_bind_code(settings: Settings, args: argparse.Namespace) -> int:
    from sqlmodel import Session, select

    from bot.app import build
    from storage.models import BindCode, Person, Village

    app = build(settings)
    with Session(app.engine) as session:
        query = select(Person).where(Person.name == args.name, Person.active)
        if args.village:
            query = query.join(Village).where(Village.name == args.village)
        people = session.exec(query).all()
        if len(people) != 1:
            print(
                f"网格里{'没有' if not people else '有多个'}“{args.name}”"
                + ("，请加 --village 村名" if people else ""),
                file=sys.stderr,
            )
            return 2
        code = f"{secrets.randbelow(10**6):06d}"
        session.add(BindCode(code=code, person_id=people[0].id or 0, created_at=app.clock.now()))
        session.commit()
    print(code)
    return 0


COMMANDS = {
    "run": cmd_run,
    "chat": cmd_chat,
    "classify": cmd_classify,
    "db": cmd_db,
    "bind-code": cmd_bind_code,
}

if __name__ == "__main__":
    raise SystemExit(main())
