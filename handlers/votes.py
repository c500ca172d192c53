"""议事说事: a 书记 puts a question about a 村里事 to its group; at the deadline the result is
posted in the group and kept on the issue's timeline.

- `start` (the 议事 command and the admin's form): the question goes to every chat of the
  issue's group as an outbox row of category "vote" (a door that has native polls, Telegram's,
  renders it as one; the others show the numbered choices).
- Ballots: on WeChat and the local platform a post that is exactly a choice's words or number
  (`by_keyword`, called by intake before classifying); on Telegram the door translates each
  poll answer into a `PollAnswer` (`receive_answer`). One ballot per person, the last counts.
- `close_due` (the scheduler, every sweep): votes whose deadline has come are counted, the
  result posted (category "vote_result": Telegram stops its poll first) and recorded.

Intake asks `open_vote` on every group post: the open votes are kept in memory per database
(a few rows, read again every `TTL_SECONDS` and at once after a vote starts or closes here), so
a group without a vote costs a dictionary lookup.
"""

from __future__ import annotations

import json
import re
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from handlers import actions, texts
from handlers.actions import Actor, Ctx, Outcome, refuse
from handlers.deps import Deps
from handlers.outbox import to_chat
from handlers.parsing import parse_due, parse_rating
from handlers.privacy import short
from storage import issues, outbox, votes
from storage.db import session_scope
from storage.models import ACTIVE_STATUSES, Issue, Kind, Vote

DEFAULT_CHOICES = ("同意", "不同意", "弃权")
DEFAULT_SPAN = timedelta(days=3)
MIN_SPAN = timedelta(hours=1)
MAX_SPAN = timedelta(days=30)
MAX_CHOICES = 10  # a Telegram poll takes 2 to 10 options
CHOICE_CHARS = 20
QUESTION_CHARS = 200  # a Telegram poll's question is at most 300 characters, our prefix included
TTL_SECONDS = 30.0  # another instance's new vote is seen within this
CATEGORY = "vote"
RESULT_CATEGORY = "vote_result"
_SEPARATORS = re.compile(r"[/／|｜、]")
_TRAILING = "。.!！ "


@dataclass(frozen=True)
class OpenVote:
    id: int
    choices: tuple[str, ...]
    closes_at: datetime

    def choice_of(self, text: str) -> int | None:
        """The choice a post names: exactly its words, or its number (1 for the first)."""
        word = text.strip().strip(_TRAILING)
        if word in self.choices:
            return self.choices.index(word)
        # isdecimal, not isdigit: ① and ² are digits that int() cannot read.
        if word.isdecimal() and 1 <= int(word) <= len(self.choices):
            return int(word) - 1
        return None


@dataclass
class _OpenVotes:
    by_group: dict[int, OpenVote] = field(default_factory=dict)
    loaded: float = -1e9


_CACHE: weakref.WeakKeyDictionary[Engine, _OpenVotes] = weakref.WeakKeyDictionary()


def _cache(session: Session) -> _OpenVotes:
    engine = session.get_bind().engine  # a session on a connection: its engine
    cache = _CACHE.get(engine)
    if cache is None:
        cache = _CACHE[engine] = _OpenVotes()
    return cache


def open_vote(ctx: Ctx, group_id: int) -> OpenVote | None:
    """The group's open vote, from memory (read again every TTL_SECONDS)."""
    cache = _cache(ctx.session)
    now = time.monotonic()
    if now - cache.loaded > TTL_SECONDS:
        cache.by_group = {
            group: OpenVote(vote_id, tuple(json.loads(choices)), closes_at)
            for group, vote_id, choices, closes_at in votes.open_votes(session=ctx.session)
        }
        cache.loaded = now
    return cache.by_group.get(group_id)


def forget_open_votes(session: Session) -> None:
    """A vote started or closed here: read them again at the next post."""
    _cache(session).loaded = -1e9


def _aware(at: datetime, now: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=now.tzinfo)  # SQLite: naive


# --- starting a vote -------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    question: str
    choices: tuple[str, ...]
    closes_at: datetime


def parse_proposal(args: str, now: datetime, *, default_question: str) -> Proposal | str:
    """ "修村口路每户出工两天 同意/不同意/弃权 3天": the question, the choices (separated by /),
    the deadline (as 限期 reads it); choices and deadline may be left out. A refusal's text
    when it cannot be read."""
    words = args.split()
    closes_at: datetime | None = None
    if words and (due := parse_due(words[-1], now)) is not None:
        closes_at, words = due, words[:-1]
    choices: tuple[str, ...] = DEFAULT_CHOICES
    if words and _SEPARATORS.search(words[-1]):
        choices = tuple(c.strip() for c in _SEPARATORS.split(words[-1]) if c.strip())
        words = words[:-1]
    question = " ".join(words).strip() or default_question
    closes_at = closes_at or now + DEFAULT_SPAN
    if len(choices) < 2 or len(set(choices)) != len(choices):
        return texts.VOTE_BAD
    if len(choices) > MAX_CHOICES or any(len(c) > CHOICE_CHARS for c in choices):
        return texts.VOTE_TOO_MANY.format(limit=MAX_CHOICES, chars=CHOICE_CHARS)
    if not MIN_SPAN <= closes_at - now <= MAX_SPAN:
        return texts.VOTE_DUE_BAD
    return Proposal(short(question, QUESTION_CHARS), choices, closes_at)


def start(ctx: Ctx, issue: Issue, actor: Actor, args: str) -> Outcome:
    """议事 12 议题 同意/不同意/弃权 3天: the 书记 (or a 镇领导) puts it to the issue's group."""
    if r := actions.grid_refusal(ctx, actor, issue, texts.ACT_VOTE):
        return r
    if not actions.is_leader_of(actor, issue):
        return refuse(texts.ONLY_LEADERS.format(action=texts.ACT_VOTE))
    if issue.kind != Kind.VILLAGE:
        return refuse(texts.VOTE_KINDS_ONLY.format(n=issue.number, kind=issue.kind))
    if issue.status not in ACTIVE_STATUSES:
        status = texts.STATUS_NAMES[issue.status]
        return refuse(texts.VOTE_NOT_ACTIVE.format(n=issue.number, status=status))
    if issue.group_id is None:
        return refuse(texts.VOTE_NO_GROUP.format(n=issue.number))
    group_name = votes.group_name(session=ctx.session, group_id=issue.group_id)
    running = votes.open_vote_of_group(session=ctx.session, group_id=issue.group_id)
    if running is not None:
        return refuse(
            texts.VOTE_ALREADY.format(
                group=group_name,
                n=votes.issue_number(session=ctx.session, vote=running),
                due=ctx.due_text(running.closes_at),
            )
        )
    # A 村里事 held back as unsure is a stub to the group: no question made of its words.
    default = short(issue.text, 40) if actions.is_public(issue) else texts.VOTE_QUESTION_STUB
    proposal = parse_proposal(args, ctx.now, default_question=default)
    if isinstance(proposal, str):
        return refuse(proposal.format(n=issue.number))
    vote = votes.add_vote(
        session=ctx.session,
        issue_id=issue.id or 0,
        group_id=issue.group_id,
        question=proposal.question,
        choices=proposal.choices,
        opened_by=actor.label,
        opened_at=ctx.now,
        closes_at=proposal.closes_at,
    )
    due = ctx.due_text(proposal.closes_at)
    actions.event(
        ctx,
        issue,
        "vote",
        actor.label,
        texts.VOTE_EVENT_OPENED.format(
            question=proposal.question, choices="/".join(proposal.choices), due=due
        ),
    )
    text = texts.VOTE_OPEN.format(
        n=issue.number,
        question=proposal.question,
        items="\n".join(
            texts.VOTE_ITEM.format(i=i, choice=c) for i, c in enumerate(proposal.choices, 1)
        ),
        first=proposal.choices[0],
        due=due,
    )
    for chat_key in votes.group_chats(session=ctx.session, group_id=issue.group_id):
        to_chat(
            ctx.session,
            chat_key,
            text,
            now=ctx.now,
            issue_id=issue.id,
            category=CATEGORY,
            dedupe_key=vote_key(vote.id or 0, chat_key),
        )
    forget_open_votes(ctx.session)
    return Outcome(True, texts.VOTE_OPENED.format(group=group_name, n=issue.number, due=due))


def vote_key(vote_id: int, chat_key: str) -> str:
    """The dedupe key of a vote's message to one chat; a door with native polls reads the vote
    from it (`vote_of_row`)."""
    return f"vote:{vote_id}:{chat_key}"


def vote_of_row(dedupe_key: str | None) -> int | None:
    """The vote an outbox row of category "vote" or "vote_result" is about."""
    parts = (dedupe_key or "").split(":")
    if len(parts) >= 2 and parts[0] in ("vote", "vote-result") and parts[1].isdigit():
        return int(parts[1])
    return None


# --- ballots ---------------------------------------------------------------------------------


def by_keyword(ctx: Ctx, row: Any, vote: OpenVote, text: str) -> str | None:
    """A group post while the group's vote is open: a ballot when it is exactly a choice's
    words or number ("vote"), else None (the post goes on as usual). A bare number (or a rating
    word) from someone asked to rate a closed matter stays a rating, unless it replies to the
    vote's message."""
    choice = vote.choice_of(text)
    if choice is None or _aware(vote.closes_at, ctx.now) <= ctx.now:
        return None
    # Another instance may have closed it since this one read its open votes: asked only of
    # the few posts that name a choice.
    if not votes.is_open(session=ctx.session, vote_id=vote.id):
        forget_open_votes(ctx.session)
        return None
    rating = parse_rating(text) is not None
    if rating and actions.awaiting_rating(ctx, row.sender) and not _replies_to_vote(ctx, row):
        return None
    votes.cast(
        session=ctx.session,
        vote_id=vote.id,
        voter=row.sender,
        voter_name=row.sender_name or "",
        choice=choice,
        at=ctx.now,
    )
    return "vote"


def _replies_to_vote(ctx: Ctx, row: Any) -> bool:
    if not row.reply_to:
        return False
    sent = outbox.sent_message(
        session=ctx.session, platform=row.platform, chat=row.chat, message_id=row.reply_to
    )
    return sent is not None and sent.category == CATEGORY


@dataclass(frozen=True)
class PollAnswer:
    """A neutral vote event: a person's answer to a native poll (Telegram's poll_answer),
    `options` empty when they took it back."""

    platform: str
    poll_id: str
    voter: str  # "platform:user id"
    voter_name: str
    options: tuple[int, ...]
    at: datetime


def receive_answer(engine: Engine, deps: Deps, answer: PollAnswer) -> bool:
    """Record a poll answer as a ballot; False when the poll is not an open vote's."""
    with session_scope(engine) as session:
        poll = votes.poll(session=session, poll_id=answer.poll_id)
        vote = votes.get_vote(session=session, vote_id=poll.vote_id) if poll else None
        if vote is None or vote.closed_at is not None:
            return False
        if _aware(vote.closes_at, answer.at) <= answer.at:  # over, not counted yet: as by_keyword
            return False
        if not answer.options:
            votes.withdraw_ballot(session=session, vote_id=vote.id or 0, voter=answer.voter)
            return True
        choice = answer.options[0]
        if not 0 <= choice < len(votes.choices_of(vote)):
            return False
        votes.cast(
            session=session,
            vote_id=vote.id or 0,
            voter=answer.voter,
            voter_name=answer.voter_name,
            choice=choice,
            at=answer.at,
        )
        return True


def record_poll(engine: Engine, *, vote_id: int, chat: str, poll_id: str, message_id: str) -> None:
    """A door sent a vote as a native poll: remember its id (poll answers name only it)."""
    with session_scope(engine) as session:
        votes.record_poll(
            session=session, vote_id=vote_id, chat=chat, poll_id=poll_id, message_id=message_id
        )


# --- the result ------------------------------------------------------------------------------


def result_of(session: Session, vote: Vote) -> dict[str, Any]:
    choices = votes.choices_of(vote)
    counts = votes.counts(session=session, vote_id=vote.id or 0, choices=len(choices))
    voters = sum(counts)
    members = max(voters, votes.known_members(session=session, group_id=vote.group_id))
    return {"counts": counts, "voters": voters, "members": members}


def result_lines(vote: Vote, result: dict[str, Any]) -> tuple[str, str]:
    """(each choice's count, the turnout) as the group and the timeline read them."""
    items = "，".join(
        texts.VOTE_RESULT_ITEM.format(choice=c, count=n)
        for c, n in zip(votes.choices_of(vote), result["counts"], strict=True)
    )
    members = result["members"]
    turnout = (
        texts.VOTE_TURNOUT.format(
            members=members, rate=f"{round(100 * result['voters'] / members)}%"
        )
        if members
        else ""
    )
    return items, turnout


def close_due(session: Session, *, now: datetime, tz: Any = None) -> int:
    """Count and announce every vote whose deadline has come: the result in each chat of the
    group, an event on the issue. The number closed."""
    due = votes.due_to_close(session=session, now=now)
    for vote in due:
        result = result_of(session, vote)
        votes.close_vote(session=session, vote=vote, at=now, result=result)
        number = votes.issue_number(session=session, vote=vote)
        items, turnout = result_lines(vote, result)
        issues.add_events(
            session=session,
            issue_id=vote.issue_id,
            at=now,
            changes=[
                (
                    "vote_result",
                    texts.SYSTEM_ACTOR,
                    texts.VOTE_EVENT_RESULT.format(
                        items=items, voters=result["voters"], turnout=turnout
                    ),
                )
            ],
        )
        text = texts.VOTE_RESULT.format(
            n=number,
            question=vote.question,
            items="\n".join(items.split("，")),
            voters=result["voters"],
            turnout=turnout,
        )
        for chat_key in votes.group_chats(session=session, group_id=vote.group_id):
            to_chat(
                session,
                chat_key,
                text,
                now=now,
                issue_id=vote.issue_id,
                category=RESULT_CATEGORY,
                dedupe_key=f"vote-result:{vote.id}:{chat_key}",
            )
    if due:
        forget_open_votes(session)
    return len(due)


def poll_question(number: int, vote: Vote, tz: Any) -> str:
    return texts.VOTE_POLL_QUESTION.format(
        n=number, question=vote.question, due=texts.when(vote.closes_at, tz)
    )


def poll_form(engine: Engine, *, vote_id: int, tz: Any) -> tuple[str, list[str]] | None:
    """What a door with native polls shows for a vote: (question, choices); None when the vote
    is closed already (a row sent late: then the listing goes out as text)."""
    with Session(engine) as session:
        vote = votes.get_vote(session=session, vote_id=vote_id)
        if vote is None or vote.closed_at is not None:
            return None
        number = votes.issue_number(session=session, vote=vote)
        return poll_question(number, vote, tz), votes.choices_of(vote)


def poll_message(engine: Engine, *, vote_id: int, chat: str) -> str | None:
    """The message of a vote's native poll in a chat (to stop it at the deadline)."""
    with Session(engine) as session:
        poll = votes.poll_of_vote(session=session, vote_id=vote_id, chat=chat)
        return poll.message_id if poll else None
