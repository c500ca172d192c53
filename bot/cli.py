"""The `shuoshi` command."""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import ValidationError

from ops import doctor as ops
from ops.logs import configure as configure_logging
from ports.settings import Settings

if TYPE_CHECKING:
    from bot.app import App
    from storage.models import Person

log = logging.getLogger("shuoshi")

# argparse's own words, in Chinese: an operator reads the errors as well as the help.
_ERRORS = (
    ("the following arguments are required: ", "缺少参数："),
    ("one of the arguments ", "这几个参数要有一个："),
    (" is required", ""),
    ("unrecognized arguments: ", "不认识的参数："),
    ("invalid choice: ", "没有这个选项："),
    ("expected one argument", "后面要跟一个值"),
    ("invalid int value: ", "不是整数："),
    ("invalid float value: ", "不是数字："),
    ("not allowed with argument ", "不能和这个参数一起用："),
    ("choose from ", "可选："),
    ("argument ", "参数 "),
)


class _Formatter(argparse.HelpFormatter):
    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)


class Parser(argparse.ArgumentParser):
    """`shuoshi` and each subcommand's parser, Chinese first: the usage line, the section
    titles, -h and the errors (the subcommands' parsers are of this class too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("add_help", False)
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        self._positionals.title = "参数"
        self._optionals.title = "选项"
        self.add_argument("-h", "--help", action="help", help="显示本帮助并退出")

    def error(self, message: str) -> NoReturn:
        for english, chinese in _ERRORS:
            message = message.replace(english, chinese)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}：{message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="shuoshi", description="说事：村里说事群的事项登记与跟进")
    sub = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="命令",
        title="命令",
        description="每个命令的用法：shuoshi 命令 --help。用 make run 安装的，先 make shell。",
    )
    sub.add_parser("run", help="启动机器人（后台、定时任务、已配置的平台；没配平台时用本地平台）")
    chat = sub.add_parser("chat", help="在本地平台上跑一段场景脚本，或逐行输入对话")
    chat.add_argument(
        "--script", metavar="脚本文件", type=Path, help="脚本文件（默认从标准输入逐行读）"
    )
    chat.add_argument(
        "--db", metavar="数据库地址", help="数据库 URL（默认用一个临时的 SQLite 文件）"
    )
    sub.add_parser(
        "classify",
        help='从标准输入读 JSON 行 {"text": …}，按群消息判断：decision（registered 登记、'
        "triage 请人判断、chatter 闲聊）、matter、kind、shown_in_group",
    )
    train = sub.add_parser("train", help="用数据集和本地的纠正重新训练分类模型")
    train.add_argument(
        "--posts", metavar="目录", type=Path, help="标注好的帖子目录（默认 data/posts）"
    )
    train.add_argument(
        "--out", metavar="模型文件", type=Path, help="模型文件（默认 DATA_DIR/model.npz）"
    )
    evaluate = sub.add_parser("eval", help="在标注文件上评估分类：每类的精确率、召回率、F1")
    evaluate.add_argument(
        "file", metavar="文件", type=Path, help='JSON 行文件 {"text": …, "label": …}'
    )
    db = sub.add_parser("db", help="数据库结构升级、查看版本、复制到 PostgreSQL")
    db.add_argument(
        "action",
        choices=["upgrade", "current", "copy"],
        help="upgrade 升级到最新，current 显示当前版本，copy 复制全部数据到另一个库",
    )
    db.add_argument("--to", metavar="数据库地址", help="copy：目标数据库 URL（PostgreSQL）")
    db.add_argument("--force", action="store_true", help="copy：先清空目标库")
    bind = sub.add_parser("bind-code", help="打印一次性绑定码，干部私聊机器人发“绑定 绑定码”")
    bind.add_argument("name", metavar="姓名", help="网格里的姓名")
    bind.add_argument("--village", metavar="村名", help="几个村有同名的人时，写村名")
    pw = sub.add_parser("set-password", help="设置网格里一个人的后台登录密码")
    pw.add_argument("name", metavar="姓名", help="网格里的姓名")
    pw.add_argument("--village", metavar="村名", help="几个村有同名的人时，写村名")
    pw.add_argument("--stdin", action="store_true", help="从标准输入读密码（没有终端时用）")
    tok = sub.add_parser("api-token", help="为网格里一个人生成程序用的 API 令牌（只显示一次）")
    tok.add_argument("name", metavar="姓名", help="网格里的姓名")
    tok.add_argument("--village", metavar="村名", help="几个村有同名的人时，写村名")
    tok.add_argument("--label", metavar="用途", default="", help="令牌的用途，如 县平台")
    digest = sub.add_parser("digest", help="打印一个村或全镇任意一周的汇总（周报）")
    where = digest.add_mutually_exclusive_group(required=True)
    where.add_argument("--village", metavar="村名", help="村名，与网格文件一致")
    where.add_argument("--town", action="store_true", help="全镇：各村并列")
    digest.add_argument("--week", metavar="周", help="ISO 周，如 2026-W48（默认上周）")
    digest.add_argument("--png", metavar="图片文件", type=Path, help="同时把图表画到这个 PNG 文件")
    inbox_cmd = sub.add_parser("inbox", help="列出处理出错的收到的消息（等待重试、已搁置）")
    inbox_cmd.add_argument(
        "--retry", metavar="编号|all", action="append", help="把搁置的消息重新处理（编号或 all）"
    )
    outbox = sub.add_parser("outbox", help="列出待发和发送失败的消息")
    outbox.add_argument("--failed", action="store_true", help="只看发送失败的")
    outbox.add_argument("--retry", type=int, action="append", metavar="编号", help="重新发送这一条")
    qr = sub.add_parser("qrcode", help="制作村里的说事码海报（A4，PDF 或 PNG）")
    qr.add_argument("--village", metavar="村名", required=True, help="村名，与网格文件一致")
    qr.add_argument("--group", metavar="群名", default="", help="只为本村的这个群制作（可不填）")
    qr.add_argument(
        "--out", metavar="文件", type=Path, required=True, help="输出文件：.pdf 或 .png"
    )
    qr.add_argument(
        "--url", metavar="网址", default="", help="后台的公网地址（默认 ADMIN_PUBLIC_URL）"
    )
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
    from storage import records
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
        records.keep(
            session, BindCode(code=code, person_id=people[0].id or 0, created_at=app.clock.now())
        )
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


def _has_terminal() -> bool:
    """Can a password be typed here without showing it? getpass reads the controlling
    terminal (/dev/tty), else standard input when that is a terminal."""
    import os

    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
        return True
    except OSError:
        return sys.stdin is not None and sys.stdin.isatty()


def cmd_set_password(settings: Settings, args: argparse.Namespace) -> int:
    import getpass

    from sqlmodel import Session

    from admin.auth import MIN_PASSWORD, set_password
    from bot.app import build

    if not args.stdin and not _has_terminal():
        # getpass would fall back to reading standard input and, finding nothing there, end
        # in a traceback (EOFError): say what to do instead, before anything else is printed.
        print(
            "没有终端可以输入密码：请在终端里运行，或用 --stdin 从标准输入读"
            f"（如 echo 新密码 | shuoshi set-password {args.name} --stdin）",
            file=sys.stderr,
        )
        return 2
    app = build(settings)
    try:
        person = _grid_person(app, args.name, args.village)
        if person is None:
            return 2
        if args.stdin:
            password = sys.stdin.readline().rstrip("\n")
            if not password:
                print("标准输入里没有密码，密码没有改。", file=sys.stderr)
                return 2
        else:
            try:
                password = getpass.getpass(f"{person.name} 的新密码：")
                again = getpass.getpass("再输一遍：")
            except (EOFError, KeyboardInterrupt):
                print("\n没有输入完，密码没有改。", file=sys.stderr)
                return 2
            if again != password:
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


def cmd_qrcode(settings: Settings, args: argparse.Namespace) -> int:
    """The 说事码 poster of a village (admin/poster.py): its QR code opens the phone page at
    the admin's public address."""
    from sqlmodel import Session

    from admin.poster import FORMATS, poster_of, render
    from bot.app import build

    fmt = args.out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        print("输出文件要以 .pdf 或 .png 结尾", file=sys.stderr)
        return 2
    base = args.url or settings.admin_public_url
    if not base:
        host = "127.0.0.1" if settings.admin_host in ("0.0.0.0", "::", "") else settings.admin_host
        base = f"http://{host}:{settings.admin_port}"
        print(
            f"提示：没有设置 ADMIN_PUBLIC_URL，码里的地址是 {base}，村民的手机多半打不开。",
            file=sys.stderr,
        )
    app = build(settings)
    try:
        with Session(app.engine) as session:
            poster = poster_of(session, base, args.village, args.group)
    finally:
        app.engine.dispose()
    if poster is None:
        where = f"“{args.village}”" + (f"的群“{args.group}”" if args.group else "")
        print(f"网格里没有{where}", file=sys.stderr)
        return 2
    args.out.write_bytes(render(poster, fmt))
    print(f"{args.out}：{poster.url}")
    return 0


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
    "qrcode": cmd_qrcode,
    **ops.COMMANDS,
}

if __name__ == "__main__":
    raise SystemExit(main())
