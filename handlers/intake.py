"""What happens when someone posts (来事接事 → 理事定事): read this file top to bottom.

1. `receive` records the message in the inbox (unique per platform, chat and message id), so a
   redelivered message is handled once and a crash mid-way is resumed (`resume_pending`).
2. `handle` decides, in one transaction: a button, a command, a rating, a reply to the bot,
   an answer the bot asked for, or a post: a matter (registered, acknowledged, owner told),
   an unsure post (kept unregistered, silent) or chatter (kept, silent).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session

from classifier.base import (
    CHATTER,
    REGISTERED,
    TRIAGE,
    Classifier,
    Prediction,
    decide,
    public_kind,
)
from handlers import actions, commands, counting, teams, texts, triage, votes
from handlers.actions import Actor, Ctx, Outcome
from handlers.deps import Deps
from handlers.directory import GroupInfo
from handlers.outbox import enqueue
from handlers.parsing import (
    explicit_tag,
    is_prose,
    parse_button,
    parse_command,
    parse_rating,
    report_body,
    strip_tag,
)
from handlers.privacy import short
from handlers.registration import (
    Post,
    Row,
    acknowledge,
    actor_of,
    group_of,
    inbox_values_of,
    recorded_id,
    register,
    remember_seen,
    reply,
    village_names,
)
from handlers.routing import choose_owner
from ports.messages import Incoming
from storage import inbox, issues, outbox, people, records, writes
from storage.db import session_scope
from storage.models import (
    Inbound,
    Issue,
    Kind,
    Pending,
    Rating,
)

log = logging.getLogger(__name__)
MEDIA_KINDS = ("photo", "voice", "video", "document")


@dataclass
class Handled:
    """What an adapter may need beyond the outbox: the answer to a button press."""

    inbound_id: int | None
    duplicate: bool = False
    answer: str | None = None  # text for the button press (alert when refused)
    alert: bool = False
    edit_issue: int | None = None  # the pressed message's issue changed: show its new state


def receive(engine: Engine, deps: Deps, msg: Incoming) -> Handled:
    """Record and handle in one transaction. A redelivered message is recognised by the
    inbox's unique key and handled once; if handling fails, the message is still recorded
    with the failure counted, and `retry_due` tries it again while the bot runs."""
    try:
        with session_scope(engine) as session, writes.deferred(session):
            return _handle_post(session, deps, Post(id=None, **inbound_values(msg)))
    except IntegrityError as exc:  # the inbox row, written last: was it received before?
        status = _recorded_status(engine, msg)
        if status is None:  # no: another conflict; kept, and tried again later
            log.exception("handling message %s:%s:%s failed", *_where(msg))
            return Handled(record_failed(engine, deps, msg, exc))
        return Handled(None, duplicate=True) if status != "new" else _retry(engine, deps, msg)
    except Exception as exc:
        log.exception("handling message %s:%s:%s failed", *_where(msg))
        return Handled(record_failed(engine, deps, msg, exc))


def receive_many(engine: Engine, deps: Deps, msgs: Sequence[Incoming]) -> list[Handled]:
    """Record and handle messages that arrived together (a burst: one getUpdates answer, a
    queue of events) in one transaction: one commit for all, which costs far less per message
    than one each. The outcome is the same as `receive` for each in order: if any of them
    fails or was delivered before, the batch is undone and each is received on its own."""
    # One by one with a slow classifier (an LLM's second opinion): a burst's transaction would
    # hold the write lock, taken by its first matter, while a later post waits for the endpoint.
    if len(msgs) <= 1 or getattr(deps.classifier, "slow", False):
        return [receive(engine, deps, msg) for msg in msgs]
    try:
        with session_scope(engine) as session, writes.deferred(session):
            return [
                _handle_post(session, deps, Post(id=None, **inbound_values(msg))) for msg in msgs
            ]
    except Exception:
        # What the undone batch left in memory (who was seen where) must not outlive it.
        deps.directory.clear()
        return [receive(engine, deps, msg) for msg in msgs]


def inbound_values(msg: Incoming) -> dict[str, Any]:
    """The inbox columns of a message (those `Post` carries, and when it came)."""
    return {
        "platform": msg.platform,
        "chat": msg.chat,
        "message_id": msg.message_id,
        "private": msg.private,
        "sender": msg.sender_key,
        "sender_name": msg.sender_name or msg.sender,
        "text": msg.text,
        "reply_to": msg.reply_to,
        "button": msg.button,
        "attachments": msg.attachments_json(),
        "received_at": msg.at,
    }


def _existing(session: Session, msg: Incoming) -> Inbound | None:
    return inbox.find_message(
        session=session, platform=msg.platform, chat=msg.chat, message_id=msg.message_id
    )


def _recorded_status(engine: Engine, msg: Incoming) -> str | None:
    with Session(engine) as session:
        row = _existing(session, msg)
        return row.status if row is not None else None


def _where(msg: Incoming) -> tuple[str, str, str]:
    return msg.platform, msg.chat, msg.message_id


def _retry(engine: Engine, deps: Deps, msg: Incoming) -> Handled:
    """Recorded earlier but never handled (a failure): handle it now."""
    with Session(engine) as session:
        row = _existing(session, msg)
    if row is None or not row.id:
        return Handled(None, True)
    return handle_guarded(engine, deps, row.id)


def failure(exc: BaseException) -> str:
    """One line about what went wrong, without the message's words (a database error's text
    carries the statement's parameters: only the driver's own first line is kept)."""
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first}"[:300]


def record_failed(engine: Engine, deps: Deps, msg: Incoming, exc: BaseException) -> int | None:
    """Record a message whose handling failed, the failure counted and its next try
    scheduled; None when it was recorded before."""
    values = inbound_values(msg)
    values["tries"] = 1
    values["retry_at"] = deps.clock.now() + inbox.backoff(1)
    values["error"] = failure(exc)
    try:
        with session_scope(engine) as session:
            return writes.insert_inbound(session.connection(), values)
    except IntegrityError:
        return None
    except DataError:
        # The database refuses what the message holds (the door's cleaning missed something):
        # keep it anyway, its words escaped to ASCII, rather than lose it or stall the door.
        for name in ("text", "sender_name"):
            values[name] = str(values[name]).encode("unicode_escape").decode("ascii")
        with session_scope(engine) as session:
            return writes.insert_inbound(session.connection(), values)


def handle_guarded(engine: Engine, deps: Deps, inbound_id: int) -> Handled:
    """Handle a recorded message; a failure is counted on its row (tried again later, or set
    aside after `inbox.MAX_TRIES`), never raised: one message cannot stop the others."""
    try:
        return handle(engine, deps, inbound_id)
    except Exception as exc:
        log.exception("handling inbox message %s failed", inbound_id)
        try:
            with session_scope(engine) as session:
                status = inbox.mark_failure(
                    session.connection(), inbound_id, now=deps.clock.now(), error=failure(exc)
                )
            if status == "failed":
                log.error("inbox message %s set aside after %d tries", inbound_id, inbox.MAX_TRIES)
        except Exception:  # the database itself is away: the row stays due, tried later
            log.exception("could not count the failure of inbox message %s", inbound_id)
        return Handled(inbound_id)


def resume_pending(engine: Engine, deps: Deps) -> int:
    """At start-up: try every message recorded but never handled, each on its own (one that
    fails again is counted and left for `retry_due`; start-up goes on)."""
    with Session(engine) as session:
        ids = inbox.pending_ids(session)
    for inbound_id in ids:
        handle_guarded(engine, deps, inbound_id)
    return len(ids)


def retry_due(engine: Engine, deps: Deps) -> int:
    """While the bot runs (every few seconds): try again the messages whose next try is due."""
    with Session(engine) as session:
        ids = inbox.due_for_retry(session, now=deps.clock.now())
    for inbound_id in ids:
        handle_guarded(engine, deps, inbound_id)
    return len(ids)


def handle(engine: Engine, deps: Deps, inbound_id: int) -> Handled:
    with session_scope(engine) as session, writes.deferred(session):
        row = inbox.lock_message(session=session, inbound_id=inbound_id, must_exist=True)
        assert row is not None
        if row.status != "new":  # another instance handled it meanwhile
            return Handled(inbound_id, duplicate=True)
        post = Post(**{f.name: getattr(row, f.name) for f in fields(Post)})
        session.expunge(row)  # the post is written back by _handle_post, not by the ORM
        return _handle_post(session, deps, post)


def _handle_post(session: Session, deps: Deps, row: Post) -> Handled:
    ctx = Ctx(session, deps, deps.clock.now(), platform=row.platform)
    result = Handled(row.id)
    # Writes are flushed where an id is needed; no autoflush before every read saves a round
    # trip per query on this hot path.
    with session.no_autoflush:
        row.status = _decide(ctx, row, result)
    if row.id is None:
        # Recorded with its outcome in one statement; a redelivered message fails here on the
        # inbox's unique key and its whole transaction is undone (see `receive`).
        row.id = writes.insert_inbound(ctx.conn, inbox_values_of(row))
    else:
        writes.mark_inbound(
            ctx.conn,
            row.id,
            status=row.status,
            label=row.label,
            confidence=row.confidence,
            issue_id=row.issue_id,
        )
    result.inbound_id = row.id
    counting.counted(session, ("post", row.id), row.platform, row.status)
    return result


def _replied_issue(ctx: Ctx, row: Row) -> Issue | None:
    """The issue of the bot message this message replies to (or whose button was pressed)."""
    if not row.reply_to:
        return None
    sent = outbox.sent_message(
        session=ctx.session, platform=row.platform, chat=row.chat, message_id=row.reply_to
    )
    if sent is None or sent.issue_id is None:
        return None
    return records.by_id(ctx.session, Issue, sent.issue_id)


def _decide(ctx: Ctx, row: Row, result: Handled) -> str:
    actor = actor_of(ctx, row)
    group = None if row.private else group_of(ctx, row)
    if row.button is not None:  # a press, even of a forged empty button
        return _button(ctx, row, actor, result)
    if not row.private and group is None:
        reply_unknown_group(ctx, row)
        forget_words(row)
        return "ignored"
    if group is not None:
        remember_seen(ctx, row.sender, group.id)
    text = row.text.strip()
    # 议事: while the group's vote is open, a post that is exactly a choice is a ballot (open
    # votes are kept in memory: a group without one costs a dictionary lookup).
    vote = votes.open_vote(ctx, group.id) if group is not None and text else None
    if vote is not None and (voted := votes.by_keyword(ctx, row, vote, text)):
        return voted
    card_answer = triage.parse_answer(text) if text else None
    if card_answer is not None:
        register_it, post_id, kind = card_answer
        outcome = triage.answer(ctx, actor, register_it=register_it, post_id=post_id, kind=kind)
        reply(ctx, row, outcome.text)
        return "command"
    home = teams.told_home(ctx, row.sender, group, text) if text else None  # "我是三组的"
    if home is not None:
        reply(ctx, row, home)
        return "command"
    cmd = parse_command(text) if text else None
    reply_issue = _replied_issue(ctx, row)  # read once: the prose rule and the command use it
    if cmd is not None and is_prose(cmd) and reply_issue is None:
        cmd = None
    # A question waits for a grid person's answer anywhere (the result after 办结) or for a
    # private answer (which village): a villager's group post answers none, so most posts
    # need not ask.
    might_answer = text and cmd is None and (row.private or actor.person is not None)
    pending = records.by_id(ctx.session, Pending, row.sender) if might_answer else None
    if pending is not None:
        answered = _answer_pending(ctx, row, actor, pending, text)
        if answered:
            return answered
    if cmd is not None:
        outcome = commands.run(
            ctx, cmd, actor, reply_issue=reply_issue, group=group, private=row.private
        )
        reply(ctx, row, outcome.text, issue_id=reply_issue.id if reply_issue else None)
        return "command"
    rating = parse_rating(text) if text else None
    if rating is not None:
        waiting = actions.awaiting_rating(ctx, row.sender)
        if reply_issue is not None and reply_issue.reporter == row.sender:
            waiting = reply_issue
        if waiting is not None:
            reply(ctx, row, actions.rate(ctx, waiting, actor, rating).text, issue_id=waiting.id)
            return "rating"
    if (
        reply_issue is not None
        and text
        and (reply_issue.reporter == row.sender or actions.in_grid_of(actor, reply_issue))
    ):
        outcome = actions.add_note(ctx, reply_issue, actor, text)
        reply(ctx, row, outcome.text, issue_id=reply_issue.id)
        row.issue_id = reply_issue.id
        return "note"
    return _post(ctx, row, actor, group, text)


@dataclass(frozen=True)
class Judgement:
    """What intake does with a post's words (`judge`): `shuoshi classify` prints it."""

    decision: str  # registered, triage or chatter
    kind: str  # the kind it is (or would be) registered under
    matter: float  # P(the post is a matter); 1.0 for an explicit tag
    shown_in_group: bool  # the group would read the post's text
    kind_sure: bool  # not a 村里事 that may be a household's or a dispute's (then: the stub)
    body: str  # what is registered: without 说事 and the tag
    prediction: Prediction | None = None  # None: the villager's own tag decided


def judge(classifier: Classifier, text: str, *, private: bool) -> Judgement:
    """Decide a post from its words alone, without touching anything: a tag (#邻里事) wins,
    说事 forces registration, else the classifier's scores go through `decide` (registered,
    triage, chatter; the privacy margin)."""
    forced = report_body(text)
    body = forced if forced is not None else text
    tag = explicit_tag(body)
    if tag is not None:
        public = tag == Kind.VILLAGE
        return Judgement(
            REGISTERED, tag, 1.0, public and not private, True, strip_tag(body) or body
        )
    p = classifier.predict(body)
    d = decide(p, private=private)
    sure = d.kind != Kind.VILLAGE or public_kind(p)
    if forced is not None:
        if not body:
            return Judgement(CHATTER, d.kind, p.matter, False, sure, body, p)
        shown = not private and sure and d.kind == Kind.VILLAGE
        return Judgement(REGISTERED, d.kind, p.matter, shown, sure, body, p)
    return Judgement(d.outcome, d.kind, p.matter, d.shown_in_group, sure, body, p)


def _post(ctx: Ctx, row: Row, actor: Actor, group: GroupInfo | None, text: str) -> str:
    attached = json.loads(row.attachments) if row.attachments != "[]" else []
    media = [a["kind"] for a in attached if a.get("kind") in MEDIA_KINDS]
    if not text:
        if media and actor.person is None:
            return register(ctx, row, group, Kind.UNSORTED, "", media=media[0])
        if row.private and not media:
            reply(ctx, row, texts.START_PRIVATE)
        return "chatter"  # stickers, empty posts, cadres' photos: kept, silent
    j = judge(ctx.deps.classifier, text, private=row.private)
    if j.prediction is not None:
        row.label, row.confidence = j.prediction.label, j.prediction.confidence
    if j.decision == REGISTERED:
        return register(ctx, row, group, Kind(j.kind), j.body, group_stub=not j.kind_sure)
    if not j.body:  # 说事 and nothing after it
        reply(ctx, row, texts.NEED_NUMBER.format(example=texts.REPORT_EXAMPLE))
        return "chatter"
    if j.decision == TRIAGE:
        # Unsure: no answer in the group yet; a person of the grid decides (handlers/triage.py).
        row.label, row.confidence = j.kind, j.matter
        if group is not None:
            triage.send_card(
                ctx,
                post_id=recorded_id(ctx, row),
                group=group,
                sender_name=row.sender_name or row.sender,
                text=j.body,
                kind=j.kind,
            )
        return "unsure"
    if row.private:
        reply(ctx, row, texts.START_PRIVATE)
    return "chatter"


def _answer_pending(ctx: Ctx, row: Row, actor: Actor, pending: Pending, text: str) -> str | None:
    if pending.action == "close_result" and pending.issue_id is not None:
        records.drop(ctx.session, pending)
        issue = records.by_id(ctx.session, Issue, pending.issue_id)
        if issue is None:
            return None
        outcome = actions.close(ctx, issue, actor, text)
        reply(ctx, row, outcome.text, issue_id=issue.id)
        return "command"
    if pending.action == "choose_village" and row.private:
        village = people.village_by_name(session=ctx.session, name=text.strip())
        original = (
            records.by_id(ctx.session, Inbound, pending.inbound_id) if pending.inbound_id else None
        )
        if village is None or original is None:
            reply(
                ctx,
                row,
                texts.VILLAGE_UNKNOWN.format(text=short(text, 10), names=village_names(ctx)),
            )
            return "chatter"
        records.drop(ctx.session, pending)
        group = people.first_group(session=ctx.session, village_id=village.id or 0)
        if group is not None:
            remember_seen(ctx, row.sender, group.id or 0)
        body = report_body(original.text) or original.text.strip()
        tag = explicit_tag(body)
        kind = Kind(tag) if tag else Kind(ctx.deps.classifier.predict(body).kind)
        issue = actions.create_issue(
            ctx,
            village_id=village.id or 0,
            group_id=None,
            kind=kind,
            text=body,
            reporter_key=row.sender,
            reporter_name=row.sender_name,
            reporter_chat=None,
            attachments=original.attachments,
        )
        original.status, original.issue_id = "matter", issue.id
        records.keep(ctx.session, original)
        acknowledge(ctx, row, issue, "")
        return "command"
    return None


def forget_words(row: Row) -> None:
    """A post in a group that is not in the grid is kept only as a count for the operator
    (platform, chat, message id, time): not who wrote it nor what (docs/deploy.md)."""
    row.text, row.sender, row.sender_name, row.attachments = "", "", "", "[]"
    row.reply_to = row.button = None


def reply_unknown_group(ctx: Ctx, row: Row) -> None:
    """One reply telling the operator how to add this chat; then silence."""
    key = f"{row.platform}:{row.chat}"
    enqueue(
        ctx.session,
        now=ctx.now,
        platform=row.platform,
        chat=row.chat,
        text=texts.UNKNOWN_GROUP.format(chat_key=key),
        private=False,
        recipient=key,
        dedupe_key=f"unknown-group:{key}",
    )


def _button(ctx: Ctx, row: Row, actor: Actor, result: Handled) -> str:
    """Buttons: claim:N, close:N (asks for the result next), rate:N:1|2|3, and a triage
    card's reg:POST / notm:POST."""
    press = parse_button(row.button or "")
    if press is not None and press.action in ("reg", "notm"):  # a triage card's answer
        decided = triage.answer(
            ctx, actor, register_it=press.action == "reg", post_id=press.number, kind=None
        )
        result.answer, result.alert = decided.text, not decided.ok
        if decided.ok:
            reply(ctx, row, decided.text)
        return "command" if decided.ok else "ignored"
    issue = None
    if press is not None:
        issue = issues.get_issue(session=ctx.session, number=press.number)
    if press is None or issue is None:
        result.answer, result.alert = texts.BUTTON_STALE, True
        return "ignored"
    outcome: Outcome
    if press.action == "claim":
        outcome = actions.claim(ctx, issue, actor)
    elif press.action == "close":
        outcome = (
            actions.grid_refusal(ctx, actor, issue, texts.ACT_CLOSE)
            or actions.active_refusal(issue, texts.ACT_CLOSE)
            or Outcome(True, texts.RESULT_PROMPT.format(n=issue.number))
        )
        if outcome.ok and not actions.can_finish(actor, issue):
            outcome = actions.refuse(
                texts.ONLY_OWNER.format(
                    n=issue.number, owner=actions.owner_name(ctx, issue), action=texts.ACT_CLOSE
                )
            )
        if outcome.ok:
            records.put(
                ctx.session,
                Pending(sender=row.sender, action="close_result", issue_id=issue.id, at=ctx.now),
            )
            reply(ctx, row, outcome.text, issue_id=issue.id)
    elif press.action == "rate" and press.choice in (1, 2, 3):
        rating = [Rating.SATISFIED, Rating.FAIR, Rating.UNSATISFIED][(press.choice or 1) - 1]
        outcome = actions.rate(ctx, issue, actor, rating)
        if outcome.ok:
            reply(ctx, row, outcome.text, issue_id=issue.id)
    else:
        outcome = actions.refuse(texts.BUTTON_STALE)
    result.answer, result.alert = outcome.text, not outcome.ok
    if outcome.ok:
        result.edit_issue = issue.number
    if outcome.ok and press.action == "claim":
        reply(ctx, row, outcome.text, issue_id=issue.id)
    row.issue_id = issue.id
    return "command" if outcome.ok else "ignored"


__all__ = ["Handled", "choose_owner", "receive", "receive_many", "resume_pending", "retry_due"]
