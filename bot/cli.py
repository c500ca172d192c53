"""The `shuoshi` command."""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ops import doctor as ops
from ops.logs import configure as configure_logging
from ports.settings import Settings

if TYPE_CHECKING:
    from bot.app import App
    from storage.models import Person

log = logging.getLogger("shuoshi")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shuoshi", description="说事：村里说事群的事项登记与跟进")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the bot (embedded default without platform credentials)")
    chat = sub.add_parser("chat", help="run a scenario script, or a REPL, on the local platform")
    chat.add_argument("--script", type=Path, help="script file (default: read lines from stdin)")
    chat.add_argument("--db", help="database URL (default: a fresh temporary SQLite file)")
    sub.add_parser(
        "classify",
        help='decide JSON lines {"text": …} from stdin as a group post: decision (registered, '
        "triage, chatter), matter, kind, shown_in_group",
    )
    train = sub.add_parser("train", help="retrain the classifier with the deployment's fixes")
    train.add_argument("--posts", type=Path, help="labeled posts folder (default: data/posts)")
    train.add_argument("--out", type=Path, help="model file (default: DATA_DIR/model.npz)")
    evaluate = sub.add_parser("eval", help="per-label precision/recall/F1 on a labeled file")
    evaluate.add_argument("file", type=Path, help='JSON lines {"text": …, "label": …}')
    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "current", "copy"])
    db.add_argument("--to", help="copy: the database URL to copy all data to (PostgreSQL)")
    db.add_argument("--force", action="store_true", help="copy: empty the target first")
    bind = sub.add_parser("bind-code", help="print a one-time code a cadre sends as /bind CODE")
    bind.add_argument("name")
    bind.add_argument("--village", help="when the name exists in several villages")
    pw = sub.add_parser("set-password", help="set a grid person's admin log-in password")
    pw.add_argument("name")
    pw.add_argument("--village", help="when the name exists in several villages")
    pw.add_argument("--stdin", action="store_true", help="read the password from standard input")
    tok = sub.add_parser("api-token", help="print a new API token for a grid person (shown once)")
    tok.add_argument("name")
    tok.add_argument("--village", help="when the name exists in several villages")
    tok.add_argument("--label", default="", help="what the token is for, e.g. 县平台")
    digest = sub.add_parser(
        "digest", help="print the weekly digest (周报) of a village or the town"
    )
    where = digest.add_mutually_exclusive_group(required=True)
    where.add_argument("--village", help="village name as in the grid file")
    where.add_argument("--town", action="store_true", help="the villages side by side")
    digest.add_argument("--week", help="ISO week such as 2026-W48 (default: last week)")
    digest.add_argument("--png", type=Path, help="also draw the chart into this PNG file")
    inbox_cmd = sub.add_parser(
        "inbox", help="list received messages whose handling failed (waiting or set aside)"
    )
    inbox_cmd.add_argument(
        "--retry", metavar="ID|all", action="append", help="handle a set-aside message again"
    )
    outbox = sub.add_parser("outbox", help="list pending and failed outgoing messages")
    outbox.add_argument("--failed", action="store_true", help="only the failed ones")
    outbox.add_argument("--retry", type=int, action="append", metavar="ID", help="send again")
    ops.add_parsers(sub)
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:  # a bad value in .env: say which, don't show a traceback
        for err in exc.errors():
            name = ".".join(str(x) for x in err["loc"]).upper()
            print(f"配置错误 {name}: {err['msg']}（请检查 .env）", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_json)
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
        # The console and scripts speak the local platform, whatever else is configured.
        app = app_module.build(settings, clock=clock, database_url=url, local=True)
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

    classifier = load_classifier(settings)
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
        print(json.dumps(obj | classified(classifier, text), ensure_ascii=False))
    return 0


def classified(classifier: Any, text: str) -> dict[str, Any]:
    """What intake would do with `text` posted in a group (handlers.intake.judge): the decision
    (registered, triage, chatter; command for a command), P(matter), the kind, whether the
    group would read the text, and the classifier's own label."""
    from handlers.intake import judge
    from handlers.parsing import is_prose, parse_command

    cmd = parse_command(text.strip())
    if cmd is not None and not is_prose(cmd):
        return {"decision": "command", "matter": 0.0, "kind": None, "shown_in_group": False}
    j = judge(classifier, text.strip(), private=False)
    out: dict[str, Any] = {
        "decision": j.decision,
        "matter": round(j.matter, 4),
        "kind": j.kind,
        "shown_in_group": j.shown_in_group,
    }
    if j.prediction is not None:
        out["label"] = j.prediction.label
        out["confidence"] = round(j.prediction.confidence, 4)
    return out


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from classifier.learning import CORRECTION_WEIGHT, corrections
    from classifier.training import REPO_POSTS, dataset, train, with_corrections
    from storage.db import make_engine, upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    with Session(engine) as session:
        fixes = corrections(session)
    engine.dispose()
    examples = with_corrections(dataset(args.posts or REPO_POSTS), fixes, CORRECTION_WEIGHT)
    model = train(examples)
    out = args.out or settings.data_dir / "model.npz"
    model.save(out)
    print(f"trained on {model.meta['examples']} posts ({len(fixes)} corrections) → {out}")
    return 0


def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import load_classifier
    from classifier.training import evaluate, read_jsonl

    print(evaluate(load_classifier(settings), read_jsonl(args.file)).text())
    return 0


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    from storage.db import current_revision, head_revision, make_engine, upgrade

    if args.action == "copy":
        return ops.cmd_db_copy(settings, args)
    engine = make_engine(settings.database_url)
    if args.action == "upgrade":
        upgrade(engine)
    print(f"database at revision {current_revision(engine)} (head {head_revision()})")
    return 0


def cmd_bind_code(settings: Settings, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from bot.app import build
    from storage.models import BindCode
    from storage.people import people_named

    app = build(settings)
    with Session(app.engine) as session:
        people = people_named(session=session, name=args.name, village=args.village)
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


def cmd_digest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build
    from scheduler.digest_print import print_digest

    app = build(settings)
    try:
        return print_digest(app, village=args.village, town=args.town, week=args.week, png=args.png)
    finally:
        app.engine.dispose()


def cmd_inbox(settings: Settings, args: argparse.Namespace) -> int:
    """Messages whose handling failed: who and when, how often tried, the error (never what
    was written); `--retry` puts set-aside ones back in line (the running bot takes them)."""
    from handlers.clock import SystemClock
    from storage import inbox
    from storage.db import make_engine, session_scope, upgrade
    from storage.grid import load_grid

    clock = SystemClock(load_grid(settings.grid_file).timezone)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    code = 0
    wanted = args.retry or []
    if wanted:
        ids = None if "all" in wanted else [int(x) for x in wanted if x.isdigit()]
        if ids is not None and len(ids) != len(wanted):
            print("请写消息编号或 all，如：shuoshi inbox --retry 12", file=sys.stderr)
            return 2
        with session_scope(engine) as session:
            requeued = inbox.requeue(session.connection(), ids)
        print(f"已把 {requeued} 条消息放回待处理，运行中的机器人几秒内处理")
        if ids is not None and requeued < len(ids):
            code = 2
    with session_scope(engine) as session:
        n = inbox.counts(session)
        print(f"收件箱：等待重试 {n['new']}，已搁置 {n['failed']}")
        names = {"new": "等待重试", "failed": "已搁置"}
        for row in inbox.unhandled(session, limit=200):
            when = row.received_at.astimezone(clock.tz)
            retry = (
                f" 下次 {row.retry_at.astimezone(clock.tz):%m-%d %H:%M:%S}"
                if row.retry_at and row.status == "new"
                else ""
            )
            print(
                f"#{row.id} {names[row.status]} {row.platform}:{row.chat} "
                f"{row.sender_name} {when:%m-%d %H:%M} 已试{row.tries}次{retry} "
                f"错误：{row.error or '（处理中断）'}"
            )
        if n["failed"]:
            print("修好原因后重新处理：shuoshi inbox --retry ID（或 all）")
    engine.dispose()
    return code


def cmd_outbox(settings: Settings, args: argparse.Namespace) -> int:
    from handlers.clock import SystemClock
    from handlers.privacy import short
    from storage import outbox as q
    from storage.db import make_engine, session_scope, upgrade
    from storage.grid import load_grid

    clock = SystemClock(load_grid(settings.grid_file).timezone)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    code = 0
    with session_scope(engine) as session:
        for outbox_id in args.retry or []:
            if q.retry_failed(session=session, outbox_id=outbox_id, now=clock.now()):
                print(f"#{outbox_id} 已重新排队，稍后发送")
            else:
                print(f"#{outbox_id} 不是发送失败的消息", file=sys.stderr)
                code = 2
    with session_scope(engine) as session:
        n = q.count_by_status(session=session)
        print(
            f"发件箱：待发 {n[q.PENDING]}，发送中 {n[q.SENDING]}，"
            f"已发 {n[q.SENT]}，失败 {n[q.FAILED]}"
        )
        statuses = (q.FAILED,) if args.failed else (q.PENDING, q.SENDING, q.FAILED)
        names = {q.PENDING: "待发", q.SENDING: "发送中", q.FAILED: "失败"}
        for row in q.list_outbox(session=session, statuses=statuses, limit=200):
            to = f"{row.recipient or row.chat}{'（私聊）' if row.private else ''}"
            when = (
                f" {row.not_before.astimezone(clock.tz):%m-%d %H:%M}起"
                if row.status != q.FAILED
                else ""
            )
            error = f" 上次错误：{short(row.last_error, 60)}" if row.last_error else ""
            print(
                f"#{row.id} {names[row.status]} {row.platform} → {to}{when} "
                f"已试{row.tries}次 「{short(row.text)}」{error}"
            )
        if n[q.FAILED]:
            print("重发：shuoshi outbox --retry ID")
    engine.dispose()
    return code


def _grid_person(app: App, name: str, village: str | None) -> Person | None:
    """The one active grid person of that name (in that village), or None after saying why."""
    from sqlmodel import Session

    from admin.auth import people_named

    with Session(app.engine) as session:
        people = people_named(session, name, village)
    if len(people) != 1:
        print(
            f"网格里{'没有' if not people else '有多个'}“{name}”"
            + ("，请加 --village 村名" if people else ""),
            file=sys.stderr,
        )
        return None
    return people[0]


def cmd_set_password(settings: Settings, args: argparse.Namespace) -> int:
    import getpass

    from sqlmodel import Session

    from admin.auth import MIN_PASSWORD, set_password
    from bot.app import build

    app = build(settings)
    try:
        person = _grid_person(app, args.name, args.village)
        if person is None:
            return 2
        if args.stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass(f"{person.name} 的新密码：")
            if getpass.getpass("再输一遍：") != password:
                print("两次输入不一样，密码没有改。", file=sys.stderr)
                return 2
        if len(password) < MIN_PASSWORD:
            print(f"密码至少 {MIN_PASSWORD} 位。", file=sys.stderr)
            return 2
        with Session(app.engine) as session:
            set_password(session, person, password, app.clock.now())
            session.commit()
        print(f"已为{person.name}（{person.role}）设置后台密码。")
        return 0
    finally:
        app.engine.dispose()


def cmd_api_token(settings: Settings, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from admin.auth import new_token
    from bot.app import build

    app = build(settings)
    try:
        person = _grid_person(app, args.name, args.village)
        if person is None:
            return 2
        with Session(app.engine) as session:
            token = new_token(session, person, app.clock.now(), args.label)
            session.commit()
        print(token)
        return 0
    finally:
        app.engine.dispose()


COMMANDS = {
    "run": cmd_run,
    "chat": cmd_chat,
    "classify": cmd_classify,
    "train": cmd_train,
    "eval": cmd_eval,
    "db": cmd_db,
    "bind-code": cmd_bind_code,
    "set-password": cmd_set_password,
    "api-token": cmd_api_token,
    "inbox": cmd_inbox,
    "outbox": cmd_outbox,
    "digest": cmd_digest,
    **ops.COMMANDS,
}

if __name__ == "__main__":
    raise SystemExit(main())
