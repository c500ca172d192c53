"""Where a villager lives: "我是三组的" told once to the bot (in the group or privately) is
remembered per person, so that what they report later starts at their 组 (handlers.routing).
A cadre can set it for the reporter of a matter (设组 12 三组)."""

from __future__ import annotations

import re

from sqlmodel import Session

from classifier import places
from handlers import texts
from handlers.actions import (
    Actor,
    Ctx,
    Outcome,
    can_finish,
    event,
    grid_refusal,
    owner_name,
    refuse,
    village_name,
)
from handlers.directory import GroupInfo, TeamInfo
from handlers.outbox import to_person
from storage import issues, people, teams
from storage.models import Issue, Kind, Person, Role

# "我是三组的", "俺是3组", "我三组的", "我家住在三社", "我们是石桥村三组的": a whole message,
# nothing else in it (a villager's "我是三组的，路灯坏了" is a post, and its 组 routes it all
# the same). The words are no sentence: "我是三组的吗", "我家在三组旁边" are not told homes.
_HOME = re.compile(
    r"^\s*(?:我们家|俺们家|我家|俺家|咱家|我们|俺们|咱们|我|俺|咱)"
    r"(?:是|住在|住|在)?\s*([^\s的滴，,。.!！?？~～]{1,12}?)\s*(?:的人|的|滴|人)?"
    r"\s*[。.!！~～]*\s*$"
)
# What the words may be: a 组 as villages write them (三组, 3组, 第三村民小组, 上坝组, 三社),
# after the village's name (石桥村三组); any other words only when a 组 of the village is
# called so (东头).
_TEAMISH = re.compile(
    r"^[^不是吗呢吧说在旁边对面附近]{1,6}?(?:村民小组|村民组|小组|组|社|生产队|队)(?:村民)?$"
)
_VILLAGE_FIRST = re.compile(r"^[^的不是]{1,6}?村(?!民)")


def said_home(text: str) -> str | None:
    """The words after "我是" in "我是三组的" (三组), or None for any other message."""
    m = _HOME.match(text)
    return m.group(1) if m else None


def _home_team(found: list[TeamInfo], words: str) -> tuple[TeamInfo | None, bool]:
    """The 组 the words name, and whether they read as a 组 at all (三组, 石桥村九组: yes;
    三组旁边, 不是三组: no). A 组's own word (东头) is always a 组."""
    for said in (words, _VILLAGE_FIRST.sub("", words)):
        exact = next((t for t in found if said in t.words), None)
        if exact is not None:
            return exact, True
        if _TEAMISH.match(said):
            return _named(found, said), True
    return None, False


def _named(found: list[TeamInfo], words: str) -> TeamInfo | None:
    named = places.groups(places.places(words))
    return next((t for t in found if t.named_in(words, named) or words in t.words), None)


def told_home(ctx: Ctx, sender: str, group: GroupInfo | None, text: str) -> str | None:
    """The answer to "我是三组的" (the 组 remembered), or None when the message is not that
    (then it is handled as any other). The village is the group's, or for a private message
    the one the sender was last seen in, else the one village that has such a 组."""
    words = said_home(text)
    if words is None:
        return None
    if group is not None:
        return _told_in(ctx, sender, group.village_id, words)
    seen = people.seen_village(session=ctx.session, sender=sender)
    if seen is not None:
        return _told_in(ctx, sender, seen, words)
    # Privately, never seen in a group: the village whose 组 it is, when only one has it (or
    # the words name the village: 我是石桥村三组的); several have one: ask for the village.
    villages = [
        (v.id, v.name)
        for v in people.active_villages(session=ctx.session)
        if v.id is not None and ctx.deps.directory.teams(ctx.session, v.id)
    ]
    named = [(i, n) for i, n in villages if words.startswith(n)]
    found: list[tuple[int, TeamInfo]] = []
    teamish = False
    for village_id, _name in named or villages:
        team, said = _home_team(ctx.deps.directory.teams(ctx.session, village_id), words)
        teamish = teamish or said
        if team is not None:
            found.append((village_id, team))
    if len(found) == 1:
        return _remember(ctx, sender, found[0][1])
    if not teamish or not villages:
        return None  # not about a 组 (or no village has 组): handled as any other message
    village_id, team = found[0] if found else (villages[0][0], None)
    example = team or ctx.deps.directory.teams(ctx.session, village_id)[0]
    return texts.TEAM_WHICH_VILLAGE.format(
        words=words, village=dict(villages)[village_id], team=example.name
    )


def _told_in(ctx: Ctx, sender: str, village_id: int, words: str) -> str | None:
    found = ctx.deps.directory.teams(ctx.session, village_id)
    if not found:
        return None
    team, teamish = _home_team(found, words)
    if team is None:
        if not teamish:
            return None  # "我是张大爷", "我在三组路口等你": not a 组 told
        return texts.TEAM_UNKNOWN.format(words=words, teams="、".join(t.name for t in found))
    return _remember(ctx, sender, team)


def _remember(ctx: Ctx, sender: str, team: TeamInfo) -> str:
    teams.set_residence(
        session=ctx.session, sender=sender, team_id=team.id, set_by=sender, at=ctx.now
    )
    ctx.deps.directory.moved(sender, team.id)
    return texts.TEAM_HOME_OK.format(team=team.name)


def set_home(ctx: Ctx, issue: Issue, actor: Actor, words: str) -> Outcome:
    """设组 12 三组: the reporter of #12 lives in 三组 (a cadre of the village says so)."""
    if r := grid_refusal(ctx, actor, issue, texts.ACT_SET_TEAM):
        return r
    found = ctx.deps.directory.teams(ctx.session, issue.village_id)
    team = _named(found, words.strip()) if words.strip() else None
    if team is None:
        return refuse(
            texts.TEAM_UNKNOWN.format(
                words=words.strip() or "？",
                teams="、".join(t.name for t in found) or "（本村没有分组）",
            )
        )
    teams.set_residence(
        session=ctx.session, sender=issue.reporter, team_id=team.id, set_by=actor.label, at=ctx.now
    )
    ctx.deps.directory.moved(issue.reporter, team.id)
    return Outcome(
        True,
        texts.TEAM_SET_OK.format(
            n=issue.number, reporter=issue.reporter_name or texts.SOME_VILLAGER, team=team.name
        ),
    )


def invite(ctx: Ctx, issue: Issue, actor: Actor, name: str) -> Outcome:
    """邀请 12 吴律师: a town mediator who serves the village and takes 邻里事 is sent the
    matter to help settle it (指尖上的移动调解室); the owner keeps it. Noted on its timeline."""
    if r := grid_refusal(ctx, actor, issue, texts.ACT_INVITE):
        return r
    if not can_finish(actor, issue):
        return refuse(
            texts.ONLY_OWNER.format(
                n=issue.number, owner=owner_name(ctx, issue), action=texts.ACT_INVITE
            )
        )
    if issue.kind != Kind.NEIGHBOUR:
        return refuse(texts.INVITE_NOT_NEIGHBOUR.format(n=issue.number, kind=issue.kind))
    found = teams.mediators(session=ctx.session, village_id=issue.village_id, kind=issue.kind)
    name = name.strip().lstrip("@")
    match = next((p for p in found if p.name == name), None)
    village = village_name(ctx, issue.village_id)
    if match is None:
        return refuse(
            texts.INVITE_UNKNOWN.format(
                village=village,
                name=name or "？",
                names="、".join(p.name for p in found) or texts.NO_MEDIATOR,
            )
        )
    note = texts.INVITE_NOTE.format(name=match.name)
    if invited_to(ctx.session, issue, match):
        return Outcome(True, texts.INVITE_AGAIN.format(name=match.name, n=issue.number))
    to_person(
        ctx.session,
        match,
        texts.INVITED_MEDIATOR.format(
            actor=actor.label, n=issue.number, kind=issue.kind, village=village, text=issue.text
        ),
        now=ctx.now,
        directory=ctx.deps.directory,
        prefer_platform=ctx.platform,
        issue_id=issue.id,
        category="notice",
    )
    event(ctx, issue, "note", actor.label, note)
    return Outcome(True, texts.INVITE_OK.format(name=match.name, n=issue.number))


def invited_to(session: Session, issue: Issue, person: Person | None) -> bool:
    """Whether this mediator was asked to help settle the issue (邀请, noted on its timeline):
    from then on a reader of its words (privacy.sees_text; the chat and the admin), as the
    invitation sent them."""
    if person is None or person.role != Role.MEDIATOR or issue.kind != Kind.NEIGHBOUR:
        return False
    note = texts.INVITE_NOTE.format(name=person.name)
    timeline = issues.timeline(session=session, issue_id=issue.id or 0)
    return any(e.kind == "note" and e.detail == note for e in timeline)
