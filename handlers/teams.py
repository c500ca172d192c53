"""Where a villager lives: "我是三组的" told once to the bot (in the group or privately) is
remembered per person, so that what they report later starts at their 组 (handlers.routing).
A cadre can set it for the reporter of a matter (设组 12 三组)."""

from __future__ import annotations

import re

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
from storage import people, teams
from storage.models import Issue, Kind

# "我是三组的", "我家住在三社", "俺是上坝组的人": a whole message, nothing else in it (a
# villager's "我是三组的，路灯坏了" is a post, and its 组 routes it all the same).
_HOME = re.compile(
    r"^\s*(?:我|俺|我们?家|俺家)(?:家)?(?:是|住|住在|在)\s*(\S{1,12}?)\s*(?:的人|的|人)?"
    r"\s*[。.!！~～]*\s*$"
)


def said_home(text: str) -> str | None:
    """The 组 words of "我是三组的" (三组), or None for any other message."""
    m = _HOME.match(text)
    return m.group(1) if m else None


def _named(found: list[TeamInfo], words: str) -> TeamInfo | None:
    named = places.groups(places.places(words))
    return next((t for t in found if t.named_in(words, named) or words in t.words), None)


def told_home(ctx: Ctx, sender: str, group: GroupInfo | None, text: str) -> str | None:
    """The answer to "我是三组的" (the 组 remembered), or None when the message is not that
    (then it is handled as any other). The village is the group's, or for a private message
    the one the sender was last seen in."""
    words = said_home(text)
    if words is None:
        return None
    village_id = (
        group.village_id
        if group is not None
        else people.seen_village(session=ctx.session, sender=sender)
    )
    if village_id is None:
        return None
    found = ctx.deps.directory.teams(ctx.session, village_id)
    if not found:
        return None
    team = _named(found, words)
    if team is None:
        if not places.groups(places.places(words)) and not words.endswith(("组", "社", "队")):
            return None  # "我是张大爷": not about a 组
        return texts.TEAM_UNKNOWN.format(words=words, teams="、".join(t.name for t in found))
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
    event(ctx, issue, "note", actor.label, texts.INVITE_NOTE.format(name=match.name))
    return Outcome(True, texts.INVITE_OK.format(name=match.name, n=issue.number))
