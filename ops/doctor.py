"""Operator commands: `shuoshi doctor`, `shuoshi backup FILE`, `shuoshi restore FILE`,
`shuoshi db copy --to URL`. The work is in storage/backup.py and storage/copy.py; this module
checks, words the results for a county IT person (in Chinese) and sets exit codes.

`shuoshi doctor` prints one line per check: ✔ fine, ! worth a look, ✘ a problem, each problem
with what to do. It exits 1 when there is a problem. `--quick` makes no network calls to the
platforms (the systemd unit runs it before each start).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import shutil
import socket
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ports.settings import DEMO_GRID, Settings

log = logging.getLogger(__name__)

GiB = 1024**3
DISK_FAIL = 1 * GiB  # below this the bot may not be able to store a photo or the database
DISK_WARN = 5 * GiB
TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MARK = {"ok": "✔", "info": "·", "warn": "!", "fail": "✘"}


@dataclass
class Finding:
    level: str  # ok, info, warn, fail
    what: str
    detail: str
    fix: str = ""


class Doctor:
    def __init__(self, settings: Settings, *, quick: bool = False, timeout: float = 5.0) -> None:
        self.settings = settings
        self.quick = quick
        self.timeout = timeout
        self.findings: list[Finding] = []

    def add(self, level: str, what: str, detail: str, fix: str = "") -> None:
        self.findings.append(Finding(level, what, detail, fix))

    def run(self) -> list[Finding]:
        checks: list[Callable[[], None]] = [
            self.check_settings,
            self.check_grid,
            self.check_data_dir,
            self.check_cjk_font,
            self.check_speech_to_text,
            self.check_admin_address,
            self.check_database,
            self.check_telegram,
            self.check_wechat,
        ]
        for check in checks:
            try:
                check()
            except Exception as exc:  # a check that breaks is itself a finding
                self.add("fail", check.__name__.removeprefix("check_"), f"检查时出错：{exc!r}")
        return self.findings

    # ---------------------------------------------------------------- checks

    def check_settings(self) -> None:
        s = self.settings
        env = Path(".env")
        where = f"{env.resolve()}" if env.exists() else "环境变量（当前目录没有 .env）"
        self.add("ok", "配置", f"已读取：{where}")
        if logging.getLevelName(s.log_level.upper()) not in (10, 20, 30, 40, 50):
            self.add("fail", "配置", f"LOG_LEVEL={s.log_level} 不是日志级别", "改成 INFO 或 DEBUG")
        if s.log_level.upper() == "DEBUG":
            self.add("warn", "配置", "LOG_LEVEL=DEBUG：日志里会有群消息原文", "平时用 INFO")
        if s.admin_host not in ("127.0.0.1", "localhost", "::1"):
            self.add(
                "info",
                "后台",
                f"后台监听 {s.admin_host}:{s.admin_port}，外网要经过 HTTPS 反向代理",
                "见 docs/deploy.md“反向代理”；/metrics 不要对外开放",
            )

    def check_grid(self) -> None:
        from storage.grid import GridError, load_grid

        path = Path(self.settings.grid_file)
        if not path.exists():
            self.add(
                "fail",
                "网格文件",
                f"{path} 不存在",
                "把网格文件放到这里，或在 .env 里设 GRID_FILE=文件路径（格式见 README“网格文件”）",
            )
            return
        try:
            grid = load_grid(path, log_warnings=False)  # listed below, once
        except GridError as exc:
            fix = "按提示改正这一项后再运行 shuoshi doctor"
            self.add("fail", "网格文件", f"{path}：{exc}", fix)
            return
        villages = len(getattr(grid, "villages", []) or [])
        self.add("ok", "网格文件", f"{path}（{villages} 个村，时区 {grid.timezone}）")
        for warning in grid.warnings:  # loads all the same (an unknown title, no 书记…)
            self.add("warn", "网格文件", warning, "按提示改网格文件；不改也能运行")
        if path.resolve() == DEMO_GRID.resolve() or path.name == "grid.demo.toml":
            self.add(
                "warn",
                "网格文件",
                "正在使用演示网格（虚构的青石镇）",
                "复制 deploy/grid.demo.toml，写上真实的村、群和负责人，再设 GRID_FILE",
            )

    def check_data_dir(self) -> None:
        data = Path(self.settings.data_dir)
        try:
            data.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=data, prefix=".doctor-"):
                pass
        except OSError as exc:
            self.add(
                "fail",
                "数据目录",
                f"{data} 不能写入：{exc.strerror or exc}",
                f"让运行机器人的用户可以写这个目录（如 chown -R shuoshi {data}），或改 DATA_DIR",
            )
            return
        usage = shutil.disk_usage(data)
        attachments = data / "attachments"
        used = sum(p.stat().st_size for p in attachments.rglob("*") if p.is_file())
        detail = (
            f"{data.resolve()}：剩余 {usage.free / GiB:.1f} GB，附件 {used / 1024**2:.0f} MB"
            if attachments.exists()
            else f"{data.resolve()}：剩余 {usage.free / GiB:.1f} GB"
        )
        if usage.free < DISK_FAIL:
            fix = "清理磁盘或换大一点的盘；图片、语音和数据库都在这里"
            self.add("fail", "磁盘空间", detail, fix)
        elif usage.free < DISK_WARN:
            self.add("warn", "磁盘空间", detail, "不到 5 GB 了，早做打算（附件按月增长）")
        else:
            self.add("ok", "磁盘空间", detail)

    def check_cjk_font(self) -> None:
        """The weekly digest's chart draws Chinese with a CJK font matplotlib can find; without
        one every character is a box. A problem, but not one to keep the bot from starting:
        only a reminder under --quick (the systemd unit's check before each start)."""
        from scheduler.chart import CJK_PACKAGE, find_cjk_family

        family = find_cjk_family()
        if family:
            self.add("ok", "中文字体", f"周报图表用 {family}")
            return
        self.add(
            "warn" if self.quick else "fail",
            "中文字体",
            "找不到中文字体：周报图表里的汉字会显示成方框",
            f"安装 {CJK_PACKAGE}（Debian/Ubuntu：sudo apt-get install {CJK_PACKAGE}；"
            "容器镜像已自带），装好后重启机器人",
        )

    def check_speech_to_text(self) -> None:
        """语音转写 is on only with both ASR_BASE_URL and ASR_MODEL: one of them alone switches
        nothing on and says nothing at start-up, while the operator believes voices are heard."""
        s = self.settings
        base, model = s.asr_base_url.strip(), s.asr_model.strip()
        if not base and not model:
            return
        if not base or not model:
            have, missing = ("ASR_BASE_URL", "ASR_MODEL") if base else ("ASR_MODEL", "ASR_BASE_URL")
            self.add(
                "warn",
                "语音转写",
                f"设了 {have}，没有设 {missing}：语音转写没有打开，语音照旧登记为待分类",
                f"在 .env 里补上 {missing}（见 docs/deploy.md“语音转写”），或把 {have} 也删掉",
            )
            return
        if not base.startswith(("http://", "https://")):
            self.add(
                "warn" if self.quick else "fail",  # voices go on being registered 待分类
                "语音转写",
                f"ASR_BASE_URL={base} 不是网址",
                "写成 http://主机:端口/v1 这样的完整地址（如 http://127.0.0.1:9000/v1）",
            )
            return
        if s.asr_timeout_seconds <= 0:
            self.add(
                "warn",
                "语音转写",
                f"ASR_TIMEOUT_SECONDS={s.asr_timeout_seconds:g}：每条语音都会当作超时",
                "改成 15 左右（秒）",
            )
            return
        self.add(
            "ok", "语音转写", f"发往 {base}（模型 {model}），最多等 {s.asr_timeout_seconds:g} 秒"
        )

    def check_admin_address(self) -> None:
        """The 说事码 poster holds ADMIN_PUBLIC_URL (a villager's phone opens it); the web chat
        speaks in the groups as anyone, so open on a reachable admin it is worth a word."""
        from ports.settings import is_loopback

        s = self.settings
        public = s.admin_public_url.strip()
        if not public:
            if self._qrcode_in_use():
                self.add(
                    "warn",
                    "说事码",
                    "没有设 ADMIN_PUBLIC_URL：说事码海报上的地址会是本机地址，村民的手机打不开",
                    "在 .env 里设 ADMIN_PUBLIC_URL=https://您的域名 后再印海报"
                    "（见 docs/deploy.md“说事码”）；不用说事码可以不管",
                )
        elif not public.startswith(("http://", "https://")):
            self.add(
                "warn" if self.quick else "fail",  # reminded before each start, not stopped
                "后台地址",
                f"ADMIN_PUBLIC_URL={public} 不是网址（说事码海报、登录都用它）",
                f"写成完整地址，如 https://{public.strip('/')}",
            )
        else:
            self.add("ok", "说事码", f"海报上的地址：{public.rstrip('/')}/s/村名")
        if s.admin_chat and not is_loopback(s.admin_host):
            self.add(
                "warn",
                "模拟群聊",
                f"ADMIN_CHAT=true，后台监听 {s.admin_host}：登录的书记、镇领导能在网页上"
                "以任何人的名义往群里说话",
                "只在试用时打开；平时删掉 ADMIN_CHAT 这一行（或设 false）",
            )

    def _qrcode_in_use(self) -> bool:
        """Whether some village's 说事码 is on (the default; the admin switches it off). A
        database that cannot be read yet counts as on: its own check says why."""
        from sqlalchemy.engine import make_url

        from storage.db import make_engine, session_scope
        from storage.people import active_villages
        from storage.reports import switched_off

        url = make_url(self.settings.database_url)
        kwargs: dict[str, Any] = {}
        if url.get_backend_name() == "sqlite":
            if not Path(url.database or "").is_file():
                return True  # not created yet: nothing is switched off
        elif url.get_backend_name() == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": int(self.timeout)}
        engine = make_engine(self.settings.database_url, **kwargs)
        try:
            with session_scope(engine) as session:
                ids = {v.id for v in active_villages(session=session)}
                return not ids or bool(ids - switched_off(session=session))
        except Exception:
            return True
        finally:
            engine.dispose()

    def check_database(self) -> None:
        from sqlalchemy.engine import make_url

        from storage.db import current_revision, head_revision, make_engine

        url = self.settings.database_url
        shown = make_url(url).render_as_string(hide_password=True)
        kind = make_url(url).get_backend_name()
        if kind == "sqlite":
            path = Path(make_url(url).database or "")
            if not path.parent.exists():
                self.add("info", "数据库", f"SQLite {path} 还不存在，第一次启动时创建")
        kwargs: dict[str, Any] = {}
        if kind == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": int(self.timeout)}
        engine = make_engine(url, **kwargs)
        try:
            try:
                revision = current_revision(engine)
            except Exception as exc:
                self.add(
                    "fail",
                    "数据库",
                    f"{shown} 连不上：{str(exc).splitlines()[0][:200]}",
                    "检查 DATABASE_URL（主机、端口、用户、密码、库名）和数据库是否在运行"
                    "（systemctl status postgresql / docker compose ps）",
                )
                return
            head = head_revision()
            if revision == head:
                self.add("ok", "数据库", f"{shown}，结构是最新的（{revision}）")
            elif revision is not None and not set(revision.split(",")) <= _known_revisions():
                self.add(
                    "fail",
                    "数据库",
                    f"数据库的结构版本 {revision} 比程序新（程序认 {head}）",
                    "程序版本比数据库旧：升级程序，或恢复到与程序配套的备份",
                )
            else:
                self.add(
                    "warn" if self.quick else "fail",
                    "数据库",
                    f"{shown}，结构版本 {revision or '空库'}，程序需要 {head}",
                    "运行 shuoshi db upgrade（shuoshi run 启动时也会自动升级）",
                )
                return
            from storage import health

            with engine.connect() as conn:
                failed = health.failed_count(conn=conn)
            if failed:
                self.add(
                    "warn",
                    "发送",
                    f"有 {failed} 条消息发送失败、不再重试",
                    "在后台或用 shuoshi outbox 查看原因（机器人被移出群、群已升级等）",
                )
            self._inbox(engine)
            self._lease(engine)
        finally:
            engine.dispose()

    def _inbox(self, engine: Any) -> None:
        """Messages whose handling failed: waiting for a retry, or set aside."""
        from sqlmodel import Session

        from storage import inbox

        with Session(engine) as session:
            n = inbox.counts(session)
        if n["failed"]:
            self.add(
                "fail",
                "收件",
                f"有 {n['failed']} 条收到的消息处理失败、已搁置（试了 {inbox.MAX_TRIES} 次）",
                "用 shuoshi inbox 查看出错原因；修好后 shuoshi inbox --retry all 重新处理",
            )
        if n["new"]:
            self.add(
                "warn",
                "收件",
                f"有 {n['new']} 条收到的消息还没处理完（出错后等待重试）",
                "机器人运行时会自动重试；用 shuoshi inbox 查看原因",
            )

    def _lease(self, engine: Any) -> None:
        endpoint = self.settings.wechaty_puppet_service_endpoint
        if not endpoint:
            return
        from storage.lease import state, wechat_lease

        try:
            lease = state(engine, wechat_lease(endpoint))
        except Exception:
            return
        if lease is not None:
            self.add(
                "info",
                "微信",
                f"读取网关消息的实例：{lease.holder}（第 {lease.epoch} 任，租约到 "
                f"{lease.expires_at:%H:%M:%S} UTC）",
            )

    def check_telegram(self) -> None:
        s = self.settings
        if not s.telegram_bot_token:
            self.add("info", "Telegram", "未配置 TELEGRAM_BOT_TOKEN，Telegram 关闭")
            return
        if not TOKEN.match(s.telegram_bot_token):
            self.add(
                "fail",
                "Telegram",
                "TELEGRAM_BOT_TOKEN 的格式不对（应为 数字:一串字母数字）",
                "在 Telegram 里找 @BotFather，/mybots → 选机器人 → API Token，整串复制过来",
            )
            return
        if s.telegram_webhook_url and not s.telegram_webhook_url.startswith("https://"):
            self.add(
                "fail",
                "Telegram",
                f"TELEGRAM_WEBHOOK_URL={s.telegram_webhook_url} 不是 https 地址",
                "Telegram 只往 https 地址推送：配好反向代理（deploy/Caddyfile）后写 "
                "https://你的域名/telegram/webhook；没有域名就留空，用轮询",
            )
        if s.telegram_webhook_secret and not SECRET.match(s.telegram_webhook_secret):
            self.add(
                "fail",
                "Telegram",
                "TELEGRAM_WEBHOOK_SECRET 只能有字母、数字、_ 和 -（最多 256 个）",
                "用 openssl rand -hex 32 生成一个",
            )
        if self.quick:
            return
        try:
            me, info = asyncio.run(
                telegram_check(s.telegram_bot_token, s.telegram_base_url, self.timeout)
            )
        except Exception as exc:
            name = type(exc).__name__
            if name in ("InvalidToken", "Forbidden"):
                self.add(
                    "fail",
                    "Telegram",
                    "Telegram 不认这个 token（可能已被 /revoke 作废）",
                    "在 @BotFather 里重新复制 token，填进 TELEGRAM_BOT_TOKEN",
                )
            else:
                self.add(
                    "fail",
                    "Telegram",
                    f"连不上 Telegram（{name}: {str(exc)[:120]}）",
                    "检查这台服务器能否访问 api.telegram.org（防火墙、代理）；"
                    "国内服务器通常需要境外中转，或设 TELEGRAM_BASE_URL 指向自建的 Bot API 服务",
                )
            return
        self.add("ok", "Telegram", f"token 有效：@{me.username}")
        if not me.can_read_all_group_messages:
            self.add(
                "warn",
                "Telegram",
                "隐私模式开着：群里只看得到命令和回复机器人的消息",
                "@BotFather → /setprivacy → 选机器人 → Disable，然后把机器人移出群再拉回来"
                "（或设为群管理员）",
            )
        mode = "webhook" if s.telegram_webhook_url else "轮询"
        if s.telegram_webhook_url and info.url and info.url != s.telegram_webhook_url:
            self.add("info", "Telegram", f"Telegram 现在推送到 {info.url}；启动后会改成配置的地址")
        if info.last_error_message:
            self.add(
                "warn",
                "Telegram",
                f"Telegram 上次推送失败：{info.last_error_message}",
                "检查域名解析、证书和反向代理是否把 /telegram/webhook 转给了机器人",
            )
        if info.pending_update_count and info.pending_update_count > 100:
            self.add("warn", "Telegram", f"有 {info.pending_update_count} 条消息等着送来")
        self.add("ok", "Telegram", f"接收方式：{mode}")

    def check_wechat(self) -> None:
        s = self.settings
        endpoint = s.wechaty_puppet_service_endpoint
        if not endpoint:
            self.add("info", "微信", "未配置 WECHATY_PUPPET_SERVICE_ENDPOINT，微信关闭")
            return
        if not s.wechaty_puppet_service_token:
            self.add(
                "fail",
                "微信",
                "没有设 WECHATY_PUPPET_SERVICE_TOKEN",
                "设成和网关的 WECHATY_TOKEN 一样的值（openssl rand -hex 16 生成）",
            )
        host, _, port = endpoint.split("://", 1)[-1].rpartition(":")
        if not host or not port.isdigit():
            self.add(
                "fail",
                "微信",
                f"WECHATY_PUPPET_SERVICE_ENDPOINT={endpoint} 不是 主机:端口",
                "同一台机器上的网关写 127.0.0.1:8788，compose 里写 wechaty-gateway:8788",
            )
            return
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=self.timeout):
                pass
        except OSError as exc:
            self.add(
                "fail",
                "微信",
                f"连不上网关 {endpoint}：{exc.strerror or exc}",
                "启动网关：systemctl start shuoshi-wechaty-gateway，或 "
                "docker compose --profile wechat up -d；看日志里有没有报错",
            )
            return
        if self.quick or not s.wechaty_puppet_service_token:
            self.add("ok", "微信", f"网关 {endpoint} 可以连上")
            return
        problem = wechat_check(
            endpoint,
            s.wechaty_puppet_service_token,
            tls=not s.wechaty_puppet_service_no_tls_insecure_client,
            timeout=self.timeout,
        )
        if problem == "token":
            self.add(
                "fail",
                "微信",
                "网关不认这个 token",
                "WECHATY_PUPPET_SERVICE_TOKEN 必须和网关的 WECHATY_TOKEN 完全一样",
            )
        elif problem:
            self.add(
                "fail",
                "微信",
                f"网关 {endpoint} 没有正常应答：{problem}",
                "网关和机器人的 TLS 设置要一致：网关 WECHATY_PUPPET_SERVICE_NO_TLS=true 时，"
                "机器人设 WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_CLIENT=true",
            )
        else:
            self.add("ok", "微信", f"网关 {endpoint} 应答正常（登录状态看后台或网关日志）")


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {rev.revision for rev in script.walk_revisions()}


async def telegram_check(token: str, base_url: str, timeout: float) -> tuple[Any, Any]:
    """getMe and getWebhookInfo through python-telegram-bot, with short timeouts."""
    from telegram import Bot
    from telegram.request import HTTPXRequest

    request = HTTPXRequest(
        connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout, pool_timeout=timeout
    )
    kwargs: dict[str, Any] = {"request": request}
    if base_url:
        kwargs["base_url"] = base_url.rstrip("/")
    bot = Bot(token, **kwargs)
    async with bot:  # initialize() asks getMe
        return bot.bot, await bot.get_webhook_info()


def wechat_check(endpoint: str, token: str, *, tls: bool, timeout: float) -> str | None:
    """One `Version` call to the gateway: None when it answers, "token" when it refuses the
    token, else what went wrong."""
    import grpc

    from bot.wechaty_pb.wechaty import puppet_pb2_grpc
    from bot.wechaty_pb.wechaty.puppet import base_pb2

    target = endpoint.split("://", 1)[-1]
    if tls:
        from bot.wechat_tls import channel_credentials, server_name_from_token

        options = [("grpc.ssl_target_name_override", server_name_from_token(token))]
        channel = grpc.secure_channel(target, channel_credentials(), options=options)
    else:
        channel = grpc.insecure_channel(target)
    try:
        stub = puppet_pb2_grpc.PuppetStub(channel)
        stub.Version(
            base_pb2.VersionRequest(),
            metadata=[("authorization", f"Wechaty {token}")],
            timeout=timeout,
        )
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return "token"
        details = exc.details() if hasattr(exc, "details") else str(exc)
        return f"{code.name if code else 'error'}: {details}"
    finally:
        channel.close()
    return None


def _width(text: str) -> int:
    """Columns on a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def report(findings: list[Finding], out: TextIO) -> int:
    print("说事自检（shuoshi doctor）", file=out)
    width = max((_width(f.what) for f in findings), default=4)
    for f in findings:
        pad = " " * (width - _width(f.what))
        print(f"  {MARK[f.level]} {f.what}{pad}  {f.detail}", file=out)
        if f.fix:
            print(f"    {' ' * width}  → 怎么办：{f.fix}", file=out)
    fails = sum(f.level == "fail" for f in findings)
    warns = sum(f.level == "warn" for f in findings)
    if fails:
        print(
            f"发现 {fails} 个问题、{warns} 个提醒：按“怎么办”改好后再运行 shuoshi doctor。",
            file=out,
        )
    elif warns:
        print(f"没有问题，{warns} 个提醒。", file=out)
    else:
        print("一切正常。", file=out)
    return 1 if fails else 0


# --------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------


def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    doctor = Doctor(settings, quick=args.quick, timeout=args.timeout)
    return report(doctor.run(), sys.stdout)


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from storage.backup import BackupError, backup

    dest = Path(args.file)
    try:
        manifest = backup(settings.database_url, Path(settings.data_dir), dest)
    except BackupError as exc:
        print(f"备份失败：{exc}", file=sys.stderr)
        return 1
    size = dest.stat().st_size / 1024**2
    print(
        f"备份完成：{dest}（{size:.1f} MB；{manifest.database}，事项 "
        f"{manifest.counts.get('issue', 0)} 件，消息 {manifest.counts.get('inbound', 0)} 条，"
        f"文件 {manifest.files} 个）"
    )
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from storage.backup import BackupError, restore

    try:
        manifest = restore(
            Path(args.file),
            settings.database_url,
            Path(settings.data_dir),
            force=args.force,
        )
    except BackupError as exc:
        print(f"恢复失败：{exc}", file=sys.stderr)
        return 1
    print(
        f"恢复完成：{manifest.created_at} 的备份，事项 {manifest.counts.get('issue', 0)} 件，"
        f"文件 {manifest.files} 个，行数已核对。现在可以启动机器人。"
    )
    return 0


def cmd_db_copy(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from storage.copy import CopyError, copy_database

    if not args.to:
        print("用法：shuoshi db copy --to postgresql+psycopg://用户:密码@主机/库", file=sys.stderr)
        return 2
    target = make_url(args.to).render_as_string(hide_password=True)

    def progress(table: str, rows: int) -> None:
        if rows % 20_000 == 0:
            print(f"  {table}：已复制 {rows} 行", file=sys.stderr)

    try:
        counts = copy_database(
            settings.database_url,
            args.to,
            force=args.force,
            progress=progress,
        )
    except CopyError as exc:
        print(f"复制失败，目标库没有改动：{exc}", file=sys.stderr)
        return 1
    for table, rows in counts.items():
        print(f"  {table}：{rows} 行")
    print(
        f"复制完成：共 {sum(counts.values())} 行到 {target}，各表行数已核对。\n"
        "下一步：在 .env 里把 DATABASE_URL 改成新库，重启机器人；旧的 SQLite 文件留作备份。"
    )
    return 0


def add_parsers(sub: Any) -> None:
    """The subcommands of this module, on the `shuoshi` parser (bot/cli.py)."""
    doctor = sub.add_parser(
        "doctor", help="自检：配置、网格、数据目录、中文字体、数据库、平台连接，说明怎么修"
    )
    doctor.add_argument("--quick", action="store_true", help="不连各平台（每次启动前的快速检查）")
    doctor.add_argument(
        "--timeout", metavar="秒", type=float, default=5.0, help="每项网络检查最多等几秒"
    )
    backup = sub.add_parser("backup", help="把数据库和数据目录备份成一个 .tar.gz 文件")
    backup.add_argument("file", metavar="备份文件", help="备份文件")
    restore = sub.add_parser("restore", help="从备份恢复（先停掉机器人）")
    restore.add_argument("file", metavar="备份文件", help="备份文件")
    restore.add_argument("--force", action="store_true", help="覆盖已有的数据库")


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "doctor": cmd_doctor,
    "backup": cmd_backup,
    "restore": cmd_restore,
}

__all__ = ["COMMANDS", "Doctor", "add_parsers", "cmd_db_copy"]
