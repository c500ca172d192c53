"""The status page in a 书记's words: is the bot connected to each group, when did it last
hear from it, how many of its messages wait, what failed. The operator's details (modes,
addresses, migration heads) are shown folded away by the template."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from storage import chat_activity

if TYPE_CHECKING:
    from handlers.deps import Deps
    from ports.runtime import Runtime

    App = Runtime[Deps]

PLATFORM_NAMES = {"telegram": "Telegram", "wechat": "微信", "local": "模拟群聊"}
TOPIC = "-topic"  # a chat the grid names by its title, "wechat-topic:新联村说事群"


@dataclass(frozen=True)
class ChatLine:
    platform: str  # its name as people say it
    configured: bool  # this server speaks that platform at all
    connected: bool
    state: str  # one sentence: 已连上 / 没有配置 / 连接出错：…
    last_heard: datetime | None
    waiting: int
    failed: int
    last_error: str | None


@dataclass(frozen=True)
class GroupLine:
    group: str
    village: str
    chats: list[ChatLine]

    @property
    def connected(self) -> bool:
        return any(c.connected for c in self.chats)


def configured(app: App, platform: str) -> bool:
    s = app.settings
    return {
        "telegram": bool(s.telegram_bot_token),
        "wechat": bool(s.wechaty_puppet_service_endpoint),
        "local": "local" in app.transports,
    }.get(platform, platform in app.transports)


def platform_state(app: App, platform: str) -> tuple[bool, str]:
    """(connected?, what to say) for one platform of this instance."""
    if not configured(app, platform):
        return False, "未接入（这台服务器没有配置）"
    info: dict[str, Any] = app.status.get(platform) or {}
    if platform == "local":
        return True, "已连上（模拟群聊）"
    state = info.get("state")
    if state == "error":
        return False, f"连接出错：{info.get('error') or '原因不明'}"
    if platform == "wechat" and info.get("qr") and not info.get("logged_in"):
        return False, "等待扫码登录：请运维在下面的技术细节里打开二维码，用机器人的微信扫码"
    if state == "connected":
        return True, "已连上"
    if state in ("connecting", "waiting"):
        return False, "正在连接"
    return False, "还没连上（机器人可能没有在运行）"


def _line(app: App, key: str, seen: chat_activity.ChatActivity | None) -> ChatLine:
    platform = key.split(":", 1)[0]
    waiting_title = platform.endswith(TOPIC)
    platform = platform.removesuffix(TOPIC)
    connected, state = platform_state(app, platform)
    if waiting_title and connected:
        connected, state = False, "还没在这个平台上看到这个群：请在群里说一句话"
    return ChatLine(
        platform=PLATFORM_NAMES.get(platform, platform),
        configured=configured(app, platform),
        connected=connected,
        state=state,
        last_heard=seen.last_heard if seen else None,
        waiting=seen.waiting if seen else 0,
        failed=seen.failed if seen else 0,
        last_error=seen.last_error if seen else None,
    )


def groups(app: App, session: Session, villages: tuple[int, ...] | None) -> list[GroupLine]:
    """Each group of these villages (None: all) with each of its chats' state."""
    found = chat_activity.group_chats(session=session, village_ids=villages)
    keys = [k for g in found for k in g.chats]
    seen = chat_activity.chat_activity(session=session, chat_keys=keys)
    lines = []
    for g in found:
        bound = {k.split(":", 1)[0] for k in g.chats}
        chats = [
            # a title entry once its chat is found: that chat speaks for it
            _line(app, k, seen.get(k))
            for k in g.chats
            if not (
                k.split(":", 1)[0].endswith(TOPIC)
                and k.split(":", 1)[0].removesuffix(TOPIC) in bound
            )
        ]
        chats.sort(key=lambda c: not c.configured)  # what this server speaks first
        lines.append(GroupLine(group=g.group, village=g.village, chats=chats))
    return lines


def minutes_ago(now: datetime, then: datetime) -> int:
    """Whole minutes from `then` to `now` (a time read back without its zone is in now's)."""
    if then.tzinfo is None:
        then = then.replace(tzinfo=now.tzinfo)
    return max(0, int((now - then).total_seconds() // 60))


PROBLEMS = {
    "disk full": "服务器磁盘快满了：照片和数据可能存不下，请运维清理磁盘",
    "messages not handled": "有收到的消息超过 5 分钟还没处理",
    "answers not sent": "机器人的回复超过 30 分钟还没发出去",
}


def problems(app: App, report: dict[str, Any]) -> list[str]:
    """What stops the bot now (readiness's findings), in words a 书记 reads."""
    said = []
    if report.get("status") == "down":
        return [f"数据库连不上：{report.get('error', '')}"]
    for problem in report.get("problems", []):
        name, _, error = str(problem).partition(": ")
        if problem in PROBLEMS:
            said.append(PROBLEMS[problem])
        elif name == "data folder":
            said.append(f"数据文件夹有问题：{error}")
        elif name in PLATFORM_NAMES:
            said.append(f"{PLATFORM_NAMES[name]}连接出错：{error}")
        else:
            said.append(str(problem))
    return said


__all__ = ["ChatLine", "GroupLine", "groups", "minutes_ago", "platform_state", "problems"]
