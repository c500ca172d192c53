"""Every command the bot understands, declared once: its name, slash aliases, Chinese keywords
(WeChat has no slash commands), its argument, who may use it, how /help shows it and where the
Telegram menu lists it. Parsing (handlers.parsing), the help and the refusals' examples
(handlers.texts) and the Telegram menu (bot.telegram) are derived from `COMMANDS`.

Add a command: declare it here, write what it does in handlers/commands.py (`run` finds it in
its table by name), and say it in a scenario. Nothing else lists commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Chats = Literal["group", "private"]


class Arg(StrEnum):
    """What follows the command word."""

    NUMBER = "number"  # an issue number (or a reply to the bot's message about it), then words
    NONE = "none"  # nothing: words after a keyword make it a villager's sentence, not a command
    TEXT = "text"  # words of its own (a bind code)
    POST = "post"  # the rest is a post, registered whatever the classifier says (说事)


class Who(StrEnum):
    """Who may use a command, as handlers/actions.py and handlers/commands.py decide."""

    VILLAGER = "村民"  # anyone who writes to the bot
    REPORTER = "反映人"  # whoever reported the issue
    OWNER = "负责人"  # the owner
    GRID = "网格员"  # an active person of the village grid (or a 镇领导)
    SECRETARY = "书记"  # the 书记 of the village
    TOWN_LEADER = "镇领导"


ANYONE = frozenset({Who.VILLAGER})
GRID = frozenset({Who.GRID})
FINISHERS = frozenset({Who.OWNER, Who.SECRETARY, Who.TOWN_LEADER})  # actions.can_finish
LEADERS = frozenset({Who.SECRETARY, Who.TOWN_LEADER})  # actions.is_leader_of


class Section(StrEnum):
    """Where /help lists a command (handlers.texts.HELP_SECTIONS words each)."""

    GRID = "grid"  # 网格员和村干部可用
    REPORTER = "reporter"  # 反映人可用
    FIRST_USE = "first_use"  # 干部第一次用请私聊我


@dataclass(frozen=True)
class Menu:
    """An entry of the Telegram command menu (setMyCommands)."""

    chats: Chats
    at: int  # its place in that menu, smallest first
    text: str
    slash: str = ""  # the alias shown; the command's first one when empty


@dataclass(frozen=True)
class CommandSpec:
    name: str
    slash: tuple[str, ...]  # /claim; the first is the one a menu shows
    keywords: tuple[str, ...]  # 认领
    arg: Arg
    who: frozenset[Who]
    example: str  # how to write it: /help and the refusal for a missing number show it
    help: tuple[Section, ...] = ()
    menu: tuple[Menu, ...] = ()

    @property
    def needs_number(self) -> bool:
        return self.arg == Arg.NUMBER


# The order is /help's order.
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "report",
        slash=("report",),
        keywords=("说事",),
        arg=Arg.POST,
        who=ANYONE,
        example="说事 村口路灯坏了",
        menu=(Menu("group", 10, "说一件事（一定登记）：/report 村口路灯坏了"),),
    ),
    CommandSpec(
        "claim",
        slash=("claim",),
        keywords=("认领",),
        arg=Arg.NUMBER,
        who=GRID,
        example="认领 12",
        help=(Section.GRID,),
        menu=(Menu("group", 20, "认领：/claim 12"), Menu("private", 50, "认领：/claim 12")),
    ),
    CommandSpec(
        "close",
        slash=("close",),
        keywords=("办结",),
        arg=Arg.NUMBER,
        who=FINISHERS,
        example="办结 12 已修好",
        help=(Section.GRID,),
        menu=(
            Menu("group", 30, "办结：/close 12 已修好"),
            Menu("private", 60, "办结：/close 12 已修好"),
        ),
    ),
    CommandSpec(
        "note",
        slash=("note",),
        keywords=("进展",),
        arg=Arg.NUMBER,
        who=frozenset({Who.REPORTER, Who.GRID}),
        example="进展 12 已联系施工队",
        help=(Section.GRID,),
        menu=(
            Menu("group", 40, "记进展：/note 12 已联系施工队"),
            Menu("private", 70, "记进展：/note 12 已联系施工队"),
        ),
    ),
    CommandSpec(
        "due",
        slash=("due",),
        keywords=("限期",),
        arg=Arg.NUMBER,
        who=FINISHERS,
        example="限期 12 3天",
        help=(Section.GRID,),
        menu=(Menu("group", 60, "改限期：/due 12 3天"),),
    ),
    CommandSpec(
        "tag",
        slash=("tag",),
        keywords=("改类",),
        arg=Arg.NUMBER,
        who=GRID,
        example="改类 12 邻里事",
        help=(Section.GRID,),
        menu=(Menu("group", 70, "改类别：/tag 12 邻里事"),),
    ),
    CommandSpec(
        "assign",
        slash=("assign",),
        keywords=("指派",),
        arg=Arg.NUMBER,
        who=LEADERS,
        example="指派 12 张姐",
        help=(Section.GRID,),
        menu=(Menu("group", 80, "指派（书记）：/assign 12 张姐"),),
    ),
    CommandSpec(
        "reopen",
        slash=("reopen",),
        keywords=("重办",),
        arg=Arg.NUMBER,
        who=FINISHERS,
        example="重办 12",
        help=(Section.GRID,),
        menu=(Menu("group", 90, "重办：/reopen 12"),),
    ),
    CommandSpec(
        "withdraw",
        slash=("withdraw",),
        keywords=("撤回",),
        arg=Arg.NUMBER,
        who=frozenset({Who.REPORTER}),
        example="撤回 12",
        help=(Section.REPORTER,),
        menu=(Menu("group", 100, "撤回自己反映的事：/withdraw 12"),),
    ),
    CommandSpec(
        "status",
        slash=("status",),
        keywords=("查询",),
        arg=Arg.NUMBER,
        who=ANYONE,  # what they see depends on who they are (commands._view)
        example="查询 12",
        help=(Section.GRID, Section.REPORTER),
        menu=(Menu("group", 50, "查询：/status 12"), Menu("private", 40, "查询：/status 12")),
    ),
    CommandSpec(
        "mine",
        slash=("mine",),
        keywords=("我的",),
        arg=Arg.NONE,
        who=ANYONE,  # an owner's open issues, or what a villager reported
        example="我的",
        help=(Section.GRID, Section.REPORTER),
        menu=(Menu("group", 110, "我的事项"), Menu("private", 30, "我的事项")),
    ),
    CommandSpec(
        "list",
        slash=("list",),
        keywords=("列表",),
        arg=Arg.NONE,
        who=ANYONE,  # in a group; in private only the grid (commands.list_open)
        example="列表",
        help=(Section.GRID,),
        menu=(
            Menu("group", 120, "本群未办结的村里事"),
            Menu("private", 80, "我们村未办结的村里事"),
        ),
    ),
    CommandSpec(
        "help",
        slash=("help", "start"),  # /start in private: what the bot is (texts.START_PRIVATE)
        keywords=("帮助",),
        arg=Arg.NONE,
        who=ANYONE,
        example="帮助",
        menu=(
            Menu("group", 130, "怎么用"),
            Menu("private", 10, "说事助手是做什么的", slash="start"),
            Menu("private", 90, "怎么用"),
        ),
    ),
    CommandSpec(
        "bind",
        slash=("bind",),
        keywords=("绑定",),
        arg=Arg.TEXT,
        who=ANYONE,  # whoever holds a bind code the admin made for a person of the grid
        example="绑定 绑定码",
        help=(Section.FIRST_USE,),
        menu=(Menu("private", 20, "干部绑定：/bind 绑定码"),),
    ),
    # 组 and mediators (issue 18): where a matter's reporter lives; a town mediator asked to help.
    CommandSpec(
        "team",
        slash=("team",),
        keywords=("设组",),
        arg=Arg.NUMBER,
        who=GRID,
        example="设组 12 三组",
        help=(Section.GRID,),
    ),
    CommandSpec(
        "invite",
        slash=("invite",),
        keywords=("邀请",),
        arg=Arg.NUMBER,
        who=FINISHERS,
        example="邀请 12 吴律师",
        help=(Section.GRID,),
    ),
    # 议事 and 回访 (issue 19): a vote of the group on a 村里事; the owner's visit after closing.
    CommandSpec(
        "vote",
        slash=("vote",),
        keywords=("议事",),
        arg=Arg.NUMBER,
        who=LEADERS,
        example="议事 12 修村口路每户出工两天 同意/不同意/弃权 3天",
        help=(Section.GRID,),
        menu=(Menu("group", 85, "议事（书记）：/vote 12 议题 同意/不同意/弃权 3天"),),
    ),
    CommandSpec(
        "visit",
        slash=("visit",),
        keywords=("回访",),
        arg=Arg.NUMBER,
        who=FINISHERS,
        example="回访 12 已上门，没再吵",
        help=(Section.GRID,),
        menu=(Menu("private", 75, "记回访：/visit 12 已上门，没再吵"),),
    ),
)
BY_NAME = {c.name: c for c in COMMANDS}


def spec(name: str) -> CommandSpec:
    return BY_NAME[name]


def examples() -> dict[str, str]:
    """How to write each command that takes an issue number (the refusal for a missing one)."""
    return {c.name: c.example for c in COMMANDS if c.needs_number}


def menu(chats: Chats) -> list[tuple[str, str]]:
    """The Telegram menu for group or private chats: (command, description), in order."""
    entries = sorted(
        (m.at, m.slash or c.slash[0], m.text) for c in COMMANDS for m in c.menu if m.chats == chats
    )
    return [(slash, text) for _, slash, text in entries]


def help_text(
    intro: str, sections: dict[Section, str], *, only: str, per_line: int, sep: str
) -> str:
    """/help: the intro, then each section's template with its commands' examples as {items},
    `per_line` to a line. A command only 书记 and 镇领导 may use says so (`only`)."""
    parts = [intro]
    for section, template in sections.items():
        items = [_help_item(c, only) for c in COMMANDS if section in c.help]
        lines = [sep.join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        parts.append(template.format(items="\n".join(lines)))
    return "\n".join(parts)


def _help_item(command: CommandSpec, only: str) -> str:
    if command.who <= LEADERS:
        return command.example + only.format(who="、".join(w for w in Who if w in command.who))
    return command.example
