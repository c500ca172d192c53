"""Edited messages: an edit never makes a new issue.

- An edit of a post the bot kept without registering it (unsure, chatter, or not decided yet)
  updates the kept text, so the admin's list of unregistered posts shows what the villager
  means now.
- An edit of a post that became an issue adds the new wording to that issue as the reporter's
  note (the owner is told) and the reporter is answered where they posted.
- Edits of anything else (commands, ratings, notes) are kept and change nothing.

Every edit is recorded in the inbox as a row of its own (status "edit", `reply_to` the edited
message), unique like any message, so a redelivered edit is applied once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from handlers import actions
from handlers.actions import Ctx
from handlers.deps import Deps
from handlers.intake import inbound_values
from handlers.registration import actor_of, reply
from ports.messages import Incoming
from storage import inbox, records
from storage.models import Inbound, Issue

UNDECIDED = ("new", "unsure", "chatter")  # kept posts an edit may still change


@dataclass(frozen=True)
class Edited:
    outcome: str  # updated, note, ignored, duplicate
    issue_number: int | None = None


def receive_edit(engine: Engine, deps: Deps, msg: Incoming, *, edited_id: str) -> Edited:
    """Record the edit of message `edited_id` (`msg.message_id` identifies this edit) and apply it,
    in one transaction. Safe to call again with the same edit."""
    with Session(engine, expire_on_commit=False) as session:
        edit = Inbound(**inbound_values(msg))
        edit.reply_to, edit.status = edited_id, "edit"
        records.keep(session, edit)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return Edited("duplicate")
        result = _apply(Ctx(session, deps, deps.clock.now(), platform=msg.platform), edit)
        session.commit()
        return result


def _apply(ctx: Ctx, edit: Inbound) -> Edited:
    original = inbox.find_message(
        session=ctx.session,
        platform=edit.platform,
        chat=edit.chat,
        message_id=edit.reply_to or "",
        lock=True,
    )
    if original is None or original.sender != edit.sender:
        return Edited("ignored")
    text = edit.text.strip()
    if original.status in UNDECIDED:
        original.text = edit.text
        records.keep(ctx.session, original)
        return Edited("updated")
    if original.status != "matter" or original.issue_id is None or not text:
        return Edited("ignored")
    issue = records.by_id(ctx.session, Issue, original.issue_id)
    if issue is None or text == original.text.strip():
        return Edited("ignored")
    outcome = actions.add_note(ctx, issue, actor_of(ctx, edit), text)
    if not outcome.ok:
        return Edited("ignored", issue.number)
    edit.issue_id = issue.id
    reply(ctx, original, outcome.text, issue_id=issue.id)
    return Edited("note", issue.number)
