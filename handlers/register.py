"""A cadre's decision on a post the bot kept but did not register (status "unsure"):
register it as a matter of a kind (as if the bot had been sure: acknowledged in the chat, the
owner told), or mark it as not a matter. Either way the decision is a labeled example for the
classifier. A post the bot took for chatter (status "chatter") can be registered too, from the
admin's 闲聊 list (`from_chatter`): nothing the bot passed over is out of a cadre's reach."""

from __future__ import annotations

from handlers import registration, texts
from handlers.actions import Actor, Ctx, Outcome, event, refuse
from handlers.directory import GroupInfo
from storage import inbox, people, records
from storage.models import KINDS, NOT_MATTER, Inbound, Issue, Kind, Pending, Role


def _post(ctx: Ctx, inbound_id: int, *, from_chatter: bool = False) -> Inbound | Outcome:
    row = inbox.lock_message(session=ctx.session, inbound_id=inbound_id)
    if row is None:
        return refuse(texts.POST_MISSING)
    if row.status != "unsure" and not (from_chatter and row.status == "chatter"):
        return refuse(texts.POST_DONE.format(status=row.status))
    return row


def _village(ctx: Ctx, row: Inbound, group: GroupInfo | None) -> int | None:
    """The post's village: its group's; for a private post, where its sender was seen."""
    if row.private:
        return registration.village_of_private(ctx, row)
    return group.village_id if group else None


def post_village(ctx: Ctx, row: Inbound) -> int | None:
    """The village a kept post belongs to, as registering it would place it (None: unknown)."""
    return _village(ctx, row, None if row.private else registration.group_of(ctx, row))


def reads_post(
    role: str | None, own_village: int | None, *, private: bool, village_id: int | None
) -> bool:
    """Whether a grid person of the post's village (or the town) may read a kept post and decide
    it: a group post, the grid of its village; a private post, only its village's 书记 and the
    镇领导 (a private post of a village nobody can tell, only the 镇领导)."""
    if not private or role == Role.TOWN_LEADER:
        return True
    return role == Role.SECRETARY and village_id is not None and own_village == village_id


def _own_village(actor: Actor) -> int | None:
    return actor.person.village_id if actor.person else None


def _may_decide(actor: Actor, village_id: int | None) -> bool:
    p = actor.person
    if p is None or not p.active:
        return False
    return p.role == Role.TOWN_LEADER or (village_id is not None and p.village_id == village_id)


def _private_refusal(actor: Actor, row: Inbound, village_id: int | None) -> Outcome | None:
    p = actor.person
    role, own = (p.role, p.village_id) if p is not None else (None, None)
    if reads_post(role, own, private=row.private, village_id=village_id):
        return None
    return refuse(texts.POST_PRIVATE_LEADERS)


def register_post(
    ctx: Ctx,
    inbound_id: int,
    kind: str,
    actor: Actor,
    *,
    village_id: int | None = None,
    from_chatter: bool = False,
) -> Outcome:
    """Register an unsure post as a matter of `kind`. A private post whose village the bot
    could not tell is registered in `village_id` (which then counts as where its sender was
    seen, as when the sender answers the bot's question). With `from_chatter`, a post the bot
    kept as chatter may be registered as well (the admin's 闲聊 list; a card's keyword answer
    never reaches those)."""
    if kind not in KINDS:
        return refuse(texts.POST_BAD_KIND)
    row = _post(ctx, inbound_id, from_chatter=from_chatter)
    if isinstance(row, Outcome):
        return row
    group = None if row.private else registration.group_of(ctx, row)
    known = _village(ctx, row, group)
    village = known if known is not None else (village_id or _own_village(actor))
    if village is None:
        return refuse(texts.POST_NEED_VILLAGE)
    if not _may_decide(actor, village):
        return refuse(texts.POST_NOT_YOURS)
    if r := _private_refusal(actor, row, known):
        return r
    if known is None and row.private:
        first = people.first_group(session=ctx.session, village_id=village)
        if first is not None and first.id is not None:
            registration.remember_seen(ctx, row.sender, first.id)
    pending = records.by_id(ctx.session, Pending, row.sender)
    if pending is not None and pending.inbound_id == row.id:
        records.drop(ctx.session, pending)
    status = registration.register(ctx, row, group, Kind(kind), row.text.strip())
    if status == "unsure" or row.issue_id is None:  # the intake could not place it after all
        return refuse(texts.POST_NEED_VILLAGE)
    issue = records.by_id(ctx.session, Issue, row.issue_id)
    assert issue is not None
    row.status = "registered" if status == "matter" else status
    records.keep(ctx.session, row)
    remember_label(ctx, text=row.text, label=kind, actor=actor, village_id=village)
    if status == "matter":
        event(ctx, issue, "registered", actor.label)
        return Outcome(True, texts.POST_REGISTERED.format(n=issue.number, kind=issue.kind))
    return Outcome(True, texts.POST_DUPLICATE.format(n=issue.number, count=issue.reports))


def guessed_kind(ctx: Ctx, inbound_id: int) -> str:
    """The kind the bot guessed for a kept post (stored as its label), else 村里事."""
    row = records.by_id(ctx.session, Inbound, inbound_id)
    label = row.label if row is not None else None
    return label if label in KINDS else Kind.VILLAGE


def dismiss_post(ctx: Ctx, inbound_id: int, actor: Actor) -> Outcome:
    """Not a matter: the post stays kept as chatter, silently."""
    row = _post(ctx, inbound_id)
    if isinstance(row, Outcome):
        return row
    group = None if row.private else registration.group_of(ctx, row)
    known = _village(ctx, row, group)
    village = known if known is not None else _own_village(actor)
    if not _may_decide(actor, village):
        return refuse(texts.POST_NOT_YOURS)
    if r := _private_refusal(actor, row, known):
        return r
    row.status = "chatter"
    records.keep(ctx.session, row)
    remember_label(ctx, text=row.text, label=NOT_MATTER, actor=actor, village_id=village)
    return Outcome(True, texts.POST_DISMISSED)


def remember_label(
    ctx: Ctx, *, text: str, label: str, actor: Actor, village_id: int | None
) -> None:
    """Keep a cadre's decision as a labeled example for training the classifier, where the
    project has a store for them (`classifier.examples.record`); without one, nothing."""
    try:
        from classifier import examples
    except ImportError:
        return
    examples.record(
        ctx.session,
        text=text,
        label=label,
        source=f"admin:{actor.label}",
        village_id=village_id,
        at=ctx.now,
    )
