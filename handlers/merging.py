"""Two corrections of duplicate detection, made by a person in the admin (issue 15, part 6).

拆分 (`split_report`): a report the bot linked to an issue as "the same matter" is not: it is
registered as an issue of its own, of the same kind, as intake would have registered it (owner
by routing, time limit, the acknowledgment to its reporter in their chat as a reply to their
post, the new owner told). The old issue counts one report less; both timelines say so; the old
issue's owner is told.

合并 (`merge_issues`): two issues of one village are one matter: the first is closed with the
result "已并入 #B" (a closed issue, not a status of its own), its reports count on the second,
the posts linked to it (its own and its duplicates) are linked to the second (so a report can
still be split off there), both timelines name the other, and every reporter of the first is
told where their matter is now handled: in the group for a 村里事, privately otherwise.

Who may: splitting, the old issue's owner, its village's 书记 or a 镇领导 (as for closing);
merging, the 书记 or a 镇领导. Rows are read and changed through the session, as the other
handlers do; nothing here knows about pages.
"""

from __future__ import annotations

from handlers import actions, registration, texts
from handlers.actions import Actor, Ctx, Outcome, refuse
from handlers.outbox import to_chat, to_person, to_sender
from handlers.parsing import explicit_tag, report_body, strip_tag
from handlers.privacy import short
from storage import inbox, issues, posts, records
from storage.models import ACTIVE_STATUSES, KINDS, Inbound, Issue, Kind, Person, Status

# The inbox statuses of a post that stands for a report of an issue: the post that registered
# it (by the bot, or from the admin) and the posts linked to it as the same matter.
REGISTERING = ("matter", "registered")
LINKED = "duplicate"


# --- 拆分 --------------------------------------------------------------------------------------


def linked_post(ctx: Ctx, issue: Issue, inbound_id: int) -> Inbound | None:
    """A post linked to this issue as the same matter, locked for the change; else None."""
    row = inbox.lock_message(session=ctx.session, inbound_id=inbound_id)
    if row is None or row.status != LINKED or row.issue_id != issue.id:
        return None
    return row


def split_report(ctx: Ctx, issue: Issue, inbound_id: int, actor: Actor) -> Outcome:
    """Register a report linked to `issue` as an issue of its own (see the module's text)."""
    if r := actions.grid_refusal(ctx, actor, issue, texts.ACT_SPLIT):
        return r
    if not actions.can_finish(actor, issue):
        return refuse(
            texts.SPLIT_NOT_YOURS.format(n=issue.number, owner=actions.owner_name(ctx, issue))
        )
    row = linked_post(ctx, issue, inbound_id)
    if row is None:
        return refuse(texts.SPLIT_NOT_LINKED.format(n=issue.number))
    issues.lock(session=ctx.session, issue=issue)  # its report count, as it is now
    text = _report_text(row)
    group = None if row.private else registration.group_of(ctx, row)
    new = actions.create_issue(
        ctx,
        village_id=issue.village_id,
        group_id=group.id if group else None,
        kind=issue.kind if issue.kind in KINDS else Kind.VILLAGE,
        text=text,
        reporter_key=row.sender,
        reporter_name=row.sender_name,
        reporter_chat=None if row.private else f"{row.platform}:{row.chat}",
        attachments=row.attachments,
        group_stub=issue.group_stub,
    )
    row.status, row.issue_id = "matter", new.id
    records.keep(ctx.session, row)
    issue.reports = max(1, issue.reports - 1)
    records.keep(ctx.session, issue)
    name = row.sender_name or texts.SOME_VILLAGER
    actions.event(
        ctx, issue, "split", actor.label, texts.SPLIT_EVENT_OLD.format(name=name, n=new.number)
    )
    actions.event(ctx, new, "split", actor.label, texts.SPLIT_EVENT_NEW.format(n=issue.number))
    # The reporter hears it as from intake: the acknowledgment, as a reply to their post.
    registration.acknowledge(ctx, row, new, "")
    _tell_owner(
        ctx,
        issue,
        actor,
        texts.OWNER_SPLIT.format(
            actor=actor.label,
            old=issue.number,
            name=name,
            text=short(text, 40),
            new=new.number,
            count=issue.reports,
        ),
    )
    return Outcome(
        True,
        texts.SPLIT_DONE.format(
            new=new.number,
            kind=new.kind,
            owner=actions.owner_name(ctx, new),
            old=issue.number,
            count=issue.reports,
        ),
    )


def _report_text(row: Inbound) -> str:
    """The matter as intake registers it: without a leading 说事 or a kind tag."""
    forced = report_body(row.text)
    body = forced if forced is not None else row.text.strip()
    return (strip_tag(body) or body) if explicit_tag(body) is not None else body


# --- 合并 --------------------------------------------------------------------------------------


def merge_refusal(ctx: Ctx, source: Issue, target: Issue | None, number: int) -> Outcome | None:
    """Why `source` cannot be merged into `target` (#number), or None."""
    if target is None:
        return refuse(texts.MERGE_MISSING.format(n=number))
    if target.id == source.id:
        return refuse(texts.MERGE_SELF.format(n=source.number))
    if target.village_id != source.village_id:
        return refuse(
            texts.MERGE_OTHER_VILLAGE.format(
                n=target.number, village=actions.village_name(ctx, target.village_id)
            )
        )
    if source.status not in ACTIVE_STATUSES:
        status = texts.STATUS_NAMES.get(source.status, source.status)
        return refuse(texts.MERGE_SOURCE_DONE.format(n=source.number, status=status))
    if target.status not in ACTIVE_STATUSES:
        status = texts.STATUS_NAMES.get(target.status, target.status)
        return refuse(texts.MERGE_TARGET_DONE.format(n=target.number, status=status))
    if target.kind != source.kind:
        # A household's words must not land under a matter everyone in the grid may read.
        return refuse(
            texts.MERGE_KIND_DIFFERS.format(
                a=source.number, kind_a=source.kind, b=target.number, kind_b=target.kind
            )
        )
    return None


def merge_issues(ctx: Ctx, source: Issue, number: int, actor: Actor) -> Outcome:
    """Close `source` into the issue #number (see the module's text)."""
    if r := actions.grid_refusal(ctx, actor, source, texts.ACT_MERGE):
        return r
    if not actions.is_leader_of(actor, source):
        return refuse(texts.MERGE_ONLY_LEADERS)
    target = issues.get_issue(session=ctx.session, number=number)
    if r := merge_refusal(ctx, source, target, number):
        return r
    assert target is not None
    # Both rows locked, the lower id first (two merges the other way round cannot deadlock),
    # and checked again as they are now.
    for issue in sorted((source, target), key=lambda i: i.id or 0):
        issues.lock(session=ctx.session, issue=issue)
    if r := merge_refusal(ctx, source, target, number):
        return r
    posts = _posts_of(ctx, source)
    target.reports += source.reports
    records.keep(ctx.session, target)
    source.status = Status.CLOSED
    source.closed_at = ctx.now
    source.result = texts.MERGED_RESULT.format(n=target.number)
    records.keep(ctx.session, source)
    for row in posts:
        row.status, row.issue_id = LINKED, target.id
        records.keep(ctx.session, row)
    actions.events(
        ctx,
        source,
        [
            ("merged", actor.label, texts.MERGE_EVENT_SOURCE.format(n=target.number)),
            ("closed", actor.label, source.result),
        ],
    )
    summary = short(source.text, 20) if source.text else source.kind
    actions.event(
        ctx,
        target,
        "merged",
        actor.label,
        texts.MERGE_EVENT_TARGET.format(n=source.number, summary=summary, count=source.reports),
    )
    _tell_reporters(ctx, source, target, posts)
    _tell_owners(ctx, source, target, actor)
    return Outcome(
        True, texts.MERGE_DONE.format(a=source.number, b=target.number, count=target.reports)
    )


def _posts_of(ctx: Ctx, issue: Issue) -> list[Inbound]:
    """The posts that stand for the issue's reports: the one that registered it and those
    linked to it, oldest first."""
    return posts.report_posts(
        session=ctx.session, issue_id=issue.id or 0, statuses=[*REGISTERING, LINKED]
    )


def _tell_reporters(ctx: Ctx, source: Issue, target: Issue, posts: list[Inbound]) -> None:
    """Each reporter of `source` once: a 村里事 in the chat where they said it, as a reply to
    their post; any other kind privately."""
    text = texts.MERGED_REPORTER.format(
        a=source.number,
        b=target.number,
        owner=actions.owner_name(ctx, target),
        due=ctx.due_text(target.due_at),
    )
    in_group = actions.is_public(source) and actions.is_public(target)
    told: set[str] = set()
    for row in posts:
        if row.sender in told or not row.sender:
            continue
        told.add(row.sender)
        if in_group or row.private:
            registration.reply(ctx, row, text, issue_id=target.id)
        else:
            to_sender(
                ctx.session, row.sender, row.sender_name, text, now=ctx.now, issue_id=target.id
            )
    if source.reporter in told or not source.reporter:
        return
    # Registered without a post of its own in the inbox (e.g. through the API).
    if in_group and source.group_id is not None and source.reporter_chat:
        to_chat(
            ctx.session,
            source.reporter_chat,
            text,
            now=ctx.now,
            mention=source.reporter,
            issue_id=target.id,
        )
    else:
        to_sender(
            ctx.session,
            source.reporter,
            source.reporter_name,
            text,
            now=ctx.now,
            issue_id=target.id,
        )


def _tell_owners(ctx: Ctx, source: Issue, target: Issue, actor: Actor) -> None:
    target_owner = actions.owner_of(ctx, target)
    if target_owner is not None:
        _tell(
            ctx,
            target,
            target_owner,
            actor,
            texts.OWNER_MERGED_INTO.format(
                actor=actor.label,
                a=source.number,
                summary=short(source.text, 30) if source.text else source.kind,
                b=target.number,
                count=target.reports,
            ),
        )
    source_owner = actions.owner_of(ctx, source)
    if source_owner is not None and source_owner.id != (target_owner.id if target_owner else None):
        _tell(
            ctx,
            source,
            source_owner,
            actor,
            texts.OWNER_MERGED_AWAY.format(
                actor=actor.label,
                a=source.number,
                b=target.number,
                owner=actions.owner_name(ctx, target),
            ),
        )


def _tell_owner(ctx: Ctx, issue: Issue, actor: Actor, text: str) -> None:
    owner = actions.owner_of(ctx, issue)
    if owner is not None:
        _tell(ctx, issue, owner, actor, text)


def _tell(ctx: Ctx, issue: Issue, person: Person, actor: Actor, text: str) -> None:
    """A notice to a person about a change, unless they made it themselves."""
    if actor.person is not None and actor.person.id == person.id:
        return
    to_person(
        ctx.session,
        person,
        text,
        now=ctx.now,
        directory=ctx.deps.directory,
        prefer_platform=ctx.platform,
        issue_id=issue.id,
        category="notice",
    )


__all__ = ["linked_post", "merge_issues", "merge_refusal", "split_report"]
