"""The command registry against what the handlers do: every declared command has a handler, and
`who` may use each one on an issue is what handlers/actions.py and handlers/commands.py decide
(a person outside `who` gets a refusal saying they may not; one inside does not)."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from handlers import commands, registry, texts
from handlers.actions import Actor, Ctx
from handlers.parsing import NEEDS_NUMBER, parse_command
from handlers.registry import Arg, Who
from storage.models import Issue, Status
from tests.conftest import Chat


def test_every_declared_command_has_a_handler() -> None:
    declared = {c.name for c in registry.COMMANDS if c.arg != Arg.POST}
    assert set(commands.PLAIN) | set(commands.ON_ISSUE) == declared
    assert set(commands.ON_ISSUE) == NEEDS_NUMBER
    assert not set(commands.PLAIN) & set(commands.ON_ISSUE)


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile(".*".join(map(re.escape, parts)), re.S)


# The refusals that say "not you" (as opposed to "not now" or "write it so").
NOT_YOU = [
    _pattern(t)
    for t in (
        texts.NOT_GRID,
        texts.OTHER_VILLAGE,
        texts.ONLY_OWNER,
        texts.ONLY_LEADERS,
        texts.ONLY_REPORTER,
        texts.NO_SUCH_ISSUE,
    )
]

# Issue #1: a 村里事 of 新联村 reported by 张大爷, owned by 张姐. Who each person is to it:
PEOPLE: dict[str, set[Who]] = {
    "张大爷": {Who.VILLAGER, Who.REPORTER},
    "路人甲": {Who.VILLAGER},
    "张姐": {Who.VILLAGER, Who.OWNER, Who.GRID},
    "王哥": {Who.VILLAGER, Who.GRID},
    "李书记": {Who.VILLAGER, Who.GRID, Who.SECRETARY},
    "陈镇长": {Who.VILLAGER, Who.GRID, Who.TOWN_LEADER},
    "刘叔": {Who.VILLAGER},  # the grid of another village (石桥村)
}
# Each command asked in the group, with what it needs after the number, on #1 in a state
# where it applies (so only who asks decides).
ASKED: dict[str, tuple[str, Status]] = {
    "claim": ("认领 1", Status.OPEN),
    "close": ("办结 1 已修好", Status.CLAIMED),
    "note": ("进展 1 已联系施工队", Status.CLAIMED),
    "due": ("限期 1 3天", Status.CLAIMED),
    "tag": ("改类 1 邻里事", Status.CLAIMED),
    "assign": ("指派 1 王哥", Status.CLAIMED),
    "reopen": ("重办 1", Status.CLOSED),
    "withdraw": ("撤回 1", Status.CLAIMED),
    "status": ("查询 1", Status.CLAIMED),
    "team": ("设组 1 三组", Status.CLAIMED),
    "invite": ("邀请 1 吴律师", Status.CLAIMED),
    "vote": ("议事 1 修村口路每户出工两天 同意/不同意/弃权 3天", Status.CLAIMED),
    "visit": ("回访 1 已上门看过", Status.CLOSED),
}


def test_asked_covers_every_command_on_an_issue() -> None:
    assert set(ASKED) == NEEDS_NUMBER


@pytest.mark.parametrize("name", sorted(ASKED))
def test_who_may_use_a_command_is_what_the_handlers_decide(chat: Chat, name: str) -> None:
    app = chat.app
    chat.say("张大爷: 村口路灯坏了好几天了，晚上黑乎乎的")
    text, state = ASKED[name]
    cmd = parse_command(text)
    assert cmd is not None and cmd.name == name
    declared = registry.spec(name).who
    for person, roles in PEOPLE.items():
        with Session(app.engine) as session:
            issue = session.exec(select(Issue).where(Issue.number == 1)).one()
            owner = app.deps.directory.person(session, "local:张姐")
            assert owner is not None and issue.reporter == "local:张大爷"
            issue.owner_id, issue.status = owner.id, state
            if state == Status.CLOSED:
                issue.result, issue.closed_at = "已修好", app.clock.now()
            session.add(issue)
            ctx = Ctx(session, app.deps, app.clock.now(), platform="local")
            key = f"local:{person}"
            actor = Actor(key=key, name=person, person=app.deps.directory.person(session, key))
            group = app.deps.directory.group(session, "local:新联村说事群")
            outcome = commands.run(ctx, cmd, actor, reply_issue=None, group=group, private=False)
            session.rollback()
        refused = any(p.fullmatch(outcome.text) for p in NOT_YOU)
        assert refused != bool(declared & roles), (name, person, outcome.text)
