"""The commands (/claim 认领, /close 办结, …): find the issue, check who asks, call the action.
Every refusal is one short line saying why and what to type; nothing changes."""

from __future__ import annotations

from sqlmodel import col, select

from handlers import actions, texts
from handlers.actions import Actor, Ctx, Outcome, refuse
from handlers.directory import GroupInfo
from handlers.parsing import Command, parse_due, parse_kind
from handlers.privacy import privacy_kind, sees_text, short
from storage.models import (
    ACTIVE_STATUSES,
    BindCode,
    ChatGroup,
    Issue,
    Kind,
    Person,
    PersonId,
    Role,
    Seen,
    Village,
)

LIST_LIMIT = 20


def run(
    ctx: Ctx,
    cmd: Command,
    actor: Actor,
    *,
    reply_issue: Issue | None,
    group: GroupInfo | None,
    private: bool,
) -> Outcome:
    if cmd.name == "unknown":
        return refuse(texts.UNKNOWN_COMMAND.format(word=cmd.word))
    if cmd.name == "help":
        return Outcome(
            True, texts.START_PRIVATE if private and cmd.word == "/start" else texts.HELP
        )
    if cmd.name == "bind":
        return bind(ctx, actor, cmd.args, private=private)
    if cmd.name == "mine":
        return mine(ctx, actor, in_group=not private)
    if cmd.name == "list":
        return list_open(ctx, actor, group)
    issue = _issue_for(ctx, cmd, reply_issue)
    if isinstance(issue, Outcome):
        return issue
    if cmd.name == "status":
        view = _view(ctx, issue, actor, group=group, private=private)
        if view == "none":  # a stranger learns nothing, not even that the number exists
            return refuse(texts.NO_SUCH_ISSUE.format(n=issue.number))
        return status(ctx, issue, show_text=view == "text")
    if cmd.name == "claim":
        return actions.claim(ctx, issue, actor)
    if cmd.name == "close":
        return actions.close(ctx, issue, actor, cmd.args)
    if cmd.name == "note":
        return actions.add_note(ctx, issue, actor, cmd.args)
    if cmd.name == "due":
        return _due(ctx, issue, actor, cmd.args)
    if cmd.name == "tag":
        kind = parse_kind(cmd.args)
        if kind is None or kind == Kind.UNSORTED:
            return refuse(texts.TAG_BAD.format(n=issue.number))
        return actions.set_kind(ctx, issue, actor, kind)
    if cmd.name == "assign":
        return _assign(ctx, issue, actor, cmd.args)
    if cmd.name == "reopen":
        return actions.reopen(ctx, issue, actor, cmd.args)
    if cmd.name == "withdraw":
        return actions.withdraw(ctx, issue, actor)
    return refuse(texts.UNKNOWN_COMMAND.format(word=cmd.word))


def _issue_for(ctx: Ctx, cmd: Command, reply_issue: Issue | None) -> Issue | Outcome:
    if cmd.number is None:
        if reply_issue is not None:
            return reply_issue
        return refuse(texts.NEED_NUMBER.format(example=texts.COMMAND_EXAMPLES[cmd.name]))
    issue = ctx.session.exec(select(Issue).where(Issue.number == cmd.number)).first()
    if issue is None:
        return refuse(texts.NO_SUCH_ISSUE.format(n=cmd.number))
    return issue


def _view(ctx: Ctx, issue: Issue, actor: Actor, *, group: GroupInfo | None, private: bool) -> str:
    """What this person may see of an issue here: "text", "stub" (number, kind, status,
    owner, due) or "none". In a group, what that group may see of its own village's issues;
    in private, the text when handlers.privacy.sees_text allows it, the stub for others of the
    village, nothing for strangers outside every group of it."""
    if not private:
        if group is not None and group.village_id == issue.village_id:
            return "text" if actions.is_public(issue) else "stub"
        return "stub" if actions.in_grid_of(actor, issue) else "none"
    if not _belongs(ctx, actor, issue):
        return "none"
    person = actor.person if actor.person is not None and actor.person.active else None
    allowed = sees_text(
        privacy_kind(issue.kind, issue.group_stub),
        reporter=issue.reporter,
        owner_id=issue.owner_id,
        village_id=issue.village_id,
        viewer_key=actor.key,
        viewer_person_id=person.id if person else None,
        viewer_role=person.role if person else None,
        viewer_village_id=person.village_id if person else None,
    )
    return "text" if allowed else "stub"


def _belongs(ctx: Ctx, actor: Actor, issue: Issue) -> bool:
    """The reporter, the grid of the issue's village, or someone seen in one of its groups."""
    if actor.key == issue.reporter or actions.in_grid_of(actor, issue):
        return True
    seen = ctx.session.get(Seen, actor.key)
    if seen is None:
        return False
    chat_group = ctx.session.get(ChatGroup, seen.group_id)
    return chat_group is not None and chat_group.village_id == issue.village_id


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
    people = actions.assignable(ctx, issue)
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
        issues = list(
            ctx.session.exec(
                select(Issue)
                .where(Issue.owner_id == actor.person.id, col(Issue.status).in_(ACTIVE_STATUSES))
                .order_by(col(Issue.due_at))
            ).all()
        )
        if not issues:
            return Outcome(True, texts.MINE_EMPTY)
        return _lines(ctx, texts.MINE_HEADER.format(count=len(issues)), issues, in_group=in_group)
    reported = list(
        ctx.session.exec(
            select(Issue).where(Issue.reporter == actor.key).order_by(col(Issue.number).desc())
        ).all()
    )
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
    query = select(Issue).where(Issue.kind == Kind.VILLAGE, col(Issue.status).in_(ACTIVE_STATUSES))
    if group is not None:
        query = query.where(Issue.group_id == group.id)
        name = group.name
    elif actor.person is not None and actor.person.village_id is not None:
        query = query.where(Issue.village_id == actor.person.village_id)
        village = ctx.session.get(Village, actor.person.village_id)
        name = village.name if village else ""
    elif actor.person is not None and actor.person.role == Role.TOWN_LEADER:
        name = texts.WHOLE_TOWN
    else:
        return refuse(texts.NOT_GRID.format(action=texts.ACT_LIST_PRIVATELY))
    issues = list(ctx.session.exec(query.order_by(col(Issue.due_at))).all())
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
    row = ctx.session.exec(select(BindCode).where(BindCode.code == code)).first()
    if row is None or row.used_at is not None:
        return refuse(texts.BIND_BAD)
    person = ctx.session.get(Person, row.person_id)
    if person is None or not person.active:
        return refuse(texts.BIND_BAD)
    row.used_at = ctx.now
    ctx.session.add(row)
    existing = ctx.session.exec(select(PersonId).where(PersonId.key == actor.key)).first()
    if existing is None:
        ctx.session.add(PersonId(key=actor.key, person_id=person.id or 0, from_file=False))
    else:
        existing.person_id = person.id or 0
        ctx.session.add(existing)
    ctx.deps.directory.clear()  # the new id must be known at once
    village = ctx.session.get(Village, person.village_id) if person.village_id else None
    return Outcome(
        True,
        texts.BIND_OK.format(
            name=person.name, place=village.name if village else "", role=person.role
        ),
    )
