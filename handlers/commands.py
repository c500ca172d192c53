"""The commands (/claim 认领, /close 办结, …): find the issue, check who asks, call the action.
Every refusal is one short line saying why and what to type; nothing changes.

The commands are declared in handlers/registry.py (words, argument, who, help, menu); this
module is what each does, found by name in `ON_ISSUE` (commands on one issue, found by its
number or by the message replied to) or `PLAIN` (the others)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from handlers import actions, teams, texts, visits, votes
from handlers.actions import Actor, Ctx, Outcome, refuse
from handlers.directory import GroupInfo
from handlers.parsing import Command, parse_due, parse_kind
from handlers.privacy import privacy_kind, sees_text, short
from storage import commands_reads as reads
from storage import records
from storage.issues import get_issue, unclaimed_of
from storage.models import ACTIVE_STATUSES, Issue, Kind, Person, PersonId, Role, Village

LIST_LIMIT = 20


@dataclass(frozen=True)
class Asked:
    """A command as asked: by whom, where, with what after the command word."""

    cmd: Command
    actor: Actor
    group: GroupInfo | None
    private: bool


def run(
    ctx: Ctx,
    cmd: Command,
    actor: Actor,
    *,
    reply_issue: Issue | None,
    group: GroupInfo | None,
    private: bool,
) -> Outcome:
    asked = Asked(cmd, actor, group, private)
    plain = PLAIN.get(cmd.name)
    if plain is not None:
        return plain(ctx, asked)
    on_issue = ON_ISSUE.get(cmd.name)
    if on_issue is None:  # "unknown": a slash command nobody declared
        return refuse(texts.UNKNOWN_COMMAND.format(word=cmd.word))
    # Only a bare 认领: words after it that are no number ("认领 12345678901234567890") are a
    # mistyped number, to be refused, not a request for the one waiting.
    if cmd.name == "claim" and cmd.number is None and not cmd.args and reply_issue is None:
        return _claim_unnumbered(ctx, asked)
    issue = _issue_for(ctx, cmd, reply_issue)
    if isinstance(issue, Outcome):
        return issue
    return on_issue(ctx, issue, asked)


def _claim_unnumbered(ctx: Ctx, asked: Asked) -> Outcome:
    """认领 with no number: a cadre with one matter waiting for them here (the group asked
    in; in private, anywhere) means that one; with several, they are listed to choose from."""
    person = asked.actor.person
    waiting: list[Issue] = []
    if person is not None and person.active and person.id is not None:
        group_id = asked.group.id if asked.group is not None and not asked.private else None
        waiting = unclaimed_of(session=ctx.session, person_id=person.id, group_id=group_id)
    if len(waiting) == 1:
        return actions.claim(ctx, waiting[0], asked.actor)
    if not waiting:
        return refuse(texts.NEED_NUMBER.format(example=texts.COMMAND_EXAMPLES["claim"]))
    in_group = not asked.private
    items = [
        texts.CLAIM_WHICH_ITEM.format(
            n=i.number,
            kind=i.kind,
            summary=short(i.text, 20) if not in_group or actions.is_public(i) else "",
        )
        for i in waiting[:LIST_LIMIT]
    ]
    return refuse(
        texts.CLAIM_WHICH.format(count=len(waiting), items="\n".join(items), n=waiting[0].number)
    )


def _issue_for(ctx: Ctx, cmd: Command, reply_issue: Issue | None) -> Issue | Outcome:
    if cmd.number is None:
        if reply_issue is not None:
            return reply_issue
        return refuse(texts.NEED_NUMBER.format(example=texts.COMMAND_EXAMPLES[cmd.name]))
    issue = get_issue(session=ctx.session, number=cmd.number)
    if issue is None:
        return refuse(texts.NO_SUCH_ISSUE.format(n=cmd.number))
    return issue


def _help(ctx: Ctx, asked: Asked) -> Outcome:
    start = asked.private and asked.cmd.word == "/start"
    return Outcome(True, texts.START_PRIVATE if start else texts.HELP)


def _status(ctx: Ctx, issue: Issue, asked: Asked) -> Outcome:
    view = _view(ctx, issue, asked.actor, group=asked.group, private=asked.private)
    if view == "none":  # a stranger learns nothing, not even that the number exists
        return refuse(texts.NO_SUCH_ISSUE.format(n=issue.number))
    return status(ctx, issue, show_text=view == "text")


def _tag(ctx: Ctx, issue: Issue, asked: Asked) -> Outcome:
    kind = parse_kind(asked.cmd.args)
    if kind is None or kind == Kind.UNSORTED:
        return refuse(texts.TAG_BAD.format(n=issue.number))
    return actions.set_kind(ctx, issue, asked.actor, kind)


def _view(ctx: Ctx, issue: Issue, actor: Actor, *, group: GroupInfo | None, private: bool) -> str:
    """What this person may see of an issue here: "text", "stub" (number, kind, status,
    owner, due) or "none". In a group, what that group may see of its own village's issues;
    in private, the text when handlers.privacy.sees_text allows it, the stub for others of the
    village, nothing for strangers outside every group of it."""
    if not private:
        if group is not None and group.village_id == issue.village_id:
            return "text" if actions.is_public(issue) else "stub"
        return "stub" if actions.in_grid_of(actor, issue) else "none"
    person = actor.person if actor.person is not None and actor.person.active else None
    invited = teams.invited_to(ctx.session, issue, person)
    if not invited and not _belongs(ctx, actor, issue):
        return "none"
    allowed = sees_text(
        privacy_kind(issue.kind, issue.group_stub),
        reporter=issue.reporter,
        owner_id=issue.owner_id,
        village_id=issue.village_id,
        viewer_key=actor.key,
        viewer_person_id=person.id if person else None,
        viewer_role=person.role if person else None,
        viewer_village_id=person.village_id if person else None,
        invited=invited,
    )
    return "text" if allowed else "stub"


def _belongs(ctx: Ctx, actor: Actor, issue: Issue) -> bool:
    """The reporter, the grid of the issue's village, or someone seen in one of its groups."""
    if actor.key == issue.reporter or actions.in_grid_of(actor, issue):
        return True
    return reads.seen_in_village(session=ctx.session, key=actor.key, village_id=issue.village_id)


def _due(ctx: Ctx, issue: Issue, actor: Actor, arg: str) -> Outcome:
    if r := actions.due_refusal(ctx, actor, issue):
        return r
    if not arg:
        return refuse(texts.DUE_NEEDS_TIME.format(n=issue.number))
    due = parse_due(arg, ctx.now)
    if due is None:
        return refuse(texts.DUE_BAD.format(arg=short(arg, 20)))
    return actions.set_due(ctx, issue, actor, due)


def _assign(ctx: Ctx, issue: Issue, actor: Actor, arg: str) -> Outcome:
    if r := actions.grid_refusal(ctx, actor, issue, texts.ACT_ASSIGN):
        return r
    if not actions.is_leader_of(actor, issue):
        return refuse(texts.ONLY_LEADERS.format(action=texts.ACT_ASSIGN))
    people = actions.assignable(ctx.session, issue)
    name = arg.strip().lstrip("@")
    if not name:
        example = people[0].name if people else texts.SOME_GRID_MEMBER
        return refuse(texts.ASSIGN_WHO.format(n=issue.number, example=example))
    match = next((p for p in people if p.name == name), None)
    if match is None:
        return refuse(
            texts.ASSIGN_UNKNOWN.format(
                village=actions.village_name(ctx, issue.village_id),
                name=short(name, 12),
                names="、".join(p.name for p in people),
            )
        )
    return actions.assign(ctx, issue, actor, match)


def status(ctx: Ctx, issue: Issue, *, show_text: bool) -> Outcome:
    text = texts.STATUS_LINE.format(
        n=issue.number,
        kind=issue.kind,
        status=texts.STATUS_NAMES[issue.status],
        owner=actions.owner_name(ctx, issue),
        due=ctx.due_text(issue.due_at),
        late=_late(ctx, issue),
    )
    if show_text:
        text += texts.STATUS_SUMMARY.format(summary=short(issue.text, 40))
    if issue.result and show_text:
        text += texts.STATUS_RESULT.format(result=issue.result)
    if issue.reports > 1:
        text += texts.STATUS_REPORTS.format(count=issue.reports)
    return Outcome(True, text)


def _late(ctx: Ctx, issue: Issue) -> str:
    if issue.status not in ACTIVE_STATUSES or ctx.now <= issue.due_at:
        return ""
    return texts.STATUS_LATE.format(days=max(1, (ctx.now - issue.due_at).days))


def _item(ctx: Ctx, issue: Issue, *, show_text: bool) -> str:
    summary = short(issue.text, 20) if show_text else f"【{issue.kind}】"
    return texts.LIST_ITEM.format(
        n=issue.number,
        summary=summary,
        owner=actions.owner_name(ctx, issue),
        due=ctx.due_text(issue.due_at),
        late=_late(ctx, issue),
    )


def _lines(ctx: Ctx, header: str, issues: list[Issue], *, in_group: bool) -> Outcome:
    lines = [header]
    for issue in issues[:LIST_LIMIT]:
        lines.append(_item(ctx, issue, show_text=not in_group or actions.is_public(issue)))
    if len(issues) > LIST_LIMIT:
        lines.append(texts.LIST_MORE.format(count=len(issues) - LIST_LIMIT))
    return Outcome(True, "\n".join(lines))


def mine(ctx: Ctx, actor: Actor, *, in_group: bool) -> Outcome:
    if actor.person is not None:
        issues = reads.open_issues_of_owner(session=ctx.session, person_id=actor.person.id)
        if not issues:
            return Outcome(True, texts.MINE_EMPTY)
        return _lines(ctx, texts.MINE_HEADER.format(count=len(issues)), issues, in_group=in_group)
    reported = reads.issues_reported_by(session=ctx.session, key=actor.key)
    if not reported:
        return Outcome(True, texts.MINE_REPORTED_EMPTY)
    lines = [texts.MINE_REPORTED_HEADER.format(count=len(reported))]
    for issue in reported[:LIST_LIMIT]:
        lines.append(
            f"#{issue.number}【{issue.kind}】{texts.STATUS_NAMES[issue.status]}"
            + ("" if in_group and not actions.is_public(issue) else " " + short(issue.text, 20))
        )
    return Outcome(True, "\n".join(lines))


def list_open(ctx: Ctx, actor: Actor, group: GroupInfo | None) -> Outcome:
    """This group's open 村里事 (in a private chat: the actor's village's)."""
    if group is not None:
        issues = reads.open_village_matters(session=ctx.session, group_id=group.id)
        name = group.name
    elif actor.person is not None and actor.person.village_id is not None:
        village_id = actor.person.village_id
        issues = reads.open_village_matters(session=ctx.session, village_id=village_id)
        village = records.by_id(ctx.session, Village, village_id)
        name = village.name if village else ""
    elif actor.person is not None and actor.person.role == Role.TOWN_LEADER:
        issues = reads.open_village_matters(session=ctx.session)
        name = texts.WHOLE_TOWN
    else:
        return refuse(texts.NOT_GRID.format(action=texts.ACT_LIST_PRIVATELY))
    if not issues:
        return Outcome(True, texts.LIST_EMPTY.format(group=name))
    return _lines(
        ctx, texts.LIST_HEADER.format(group=name, count=len(issues)), issues, in_group=False
    )


def bind(ctx: Ctx, actor: Actor, code: str, *, private: bool) -> Outcome:
    if not private:
        return refuse(texts.BIND_IN_GROUP)
    code = code.strip()
    if not code:
        return refuse(texts.BIND_NO_CODE)
    row = reads.bind_code(session=ctx.session, code=code)
    if row is None or row.used_at is not None:
        return refuse(texts.BIND_BAD)
    person = records.by_id(ctx.session, Person, row.person_id)
    if person is None or not person.active:
        return refuse(texts.BIND_BAD)
    row.used_at = ctx.now
    records.keep(ctx.session, row)
    existing = reads.bound_id(session=ctx.session, key=actor.key)
    if existing is None:
        records.keep(
            ctx.session, PersonId(key=actor.key, person_id=person.id or 0, from_file=False)
        )
    else:
        existing.person_id = person.id or 0
        records.keep(ctx.session, existing)
    ctx.deps.directory.clear()  # the new id must be known at once
    village = records.by_id(ctx.session, Village, person.village_id) if person.village_id else None
    return Outcome(
        True,
        texts.BIND_OK.format(
            name=person.name, place=village.name if village else "", role=person.role
        ),
    )


# What each declared command does (handlers/registry.py declares its words, argument and help).
PLAIN: dict[str, Callable[[Ctx, Asked], Outcome]] = {
    "help": _help,
    "bind": lambda ctx, a: bind(ctx, a.actor, a.cmd.args, private=a.private),
    "mine": lambda ctx, a: mine(ctx, a.actor, in_group=not a.private),
    "list": lambda ctx, a: list_open(ctx, a.actor, a.group),
}
ON_ISSUE: dict[str, Callable[[Ctx, Issue, Asked], Outcome]] = {
    "status": _status,
    "team": lambda ctx, issue, a: teams.set_home(ctx, issue, a.actor, a.cmd.args),
    "invite": lambda ctx, issue, a: teams.invite(ctx, issue, a.actor, a.cmd.args),
    "claim": lambda ctx, issue, a: actions.claim(ctx, issue, a.actor),
    "close": lambda ctx, issue, a: actions.close(ctx, issue, a.actor, a.cmd.args),
    "note": lambda ctx, issue, a: actions.add_note(ctx, issue, a.actor, a.cmd.args),
    "due": lambda ctx, issue, a: _due(ctx, issue, a.actor, a.cmd.args),
    "tag": _tag,
    "assign": lambda ctx, issue, a: _assign(ctx, issue, a.actor, a.cmd.args),
    "reopen": lambda ctx, issue, a: actions.reopen(ctx, issue, a.actor, a.cmd.args),
    "withdraw": lambda ctx, issue, a: actions.withdraw(ctx, issue, a.actor),
}
# 议事 and 回访 (issue 19).
ON_ISSUE["vote"] = lambda ctx, issue, a: votes.start(ctx, issue, a.actor, a.cmd.args)
ON_ISSUE["visit"] = lambda ctx, issue, a: visits.record(ctx, issue, a.actor, a.cmd.args)
