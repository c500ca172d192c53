"""The changes a matter goes through. The chat commands and the admin pages both call these, so
assigning in the page and /assign in the chat are one code path. Each change writes an Event
and queues whatever the people concerned must be told."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection
from sqlmodel import Session

from classifier import learning
from handlers import counting, texts
from handlers.deps import Deps
from handlers.outbox import to_chat, to_person, to_sender
from handlers.privacy import short
from handlers.routing import due_for, route
from storage import issues, people, records, teams
from storage.models import (
    ACTIVE_STATUSES,
    NOT_MATTER,
    PRIVATE_KINDS,
    Issue,
    Kind,
    Level,
    Person,
    Rating,
    Role,
    Status,
    Village,
)

TEXT_LIMIT = 1000  # notes and results longer than this are refused, not cut


@dataclass
class Actor:
    key: str  # "platform:user id"
    name: str
    person: Person | None = None

    @property
    def label(self) -> str:
        return self.person.name if self.person else self.name


@dataclass
class Ctx:
    session: Session
    deps: Deps
    now: datetime
    platform: str | None = None  # where private notices preferably go
    # Strong references for the transaction: the session's identity map is weak, and keeping
    # what was loaded once (e.g. the new owner) saves loading it again.
    keep: list[object] = field(default_factory=list)
    _conn: Connection | None = field(default=None, repr=False)

    @property
    def conn(self) -> Connection:
        """The transaction's connection, for Core statements (looked up once per message)."""
        if self._conn is None:
            self._conn = self.session.connection()
        return self._conn

    def due_text(self, dt: datetime) -> str:
        return texts.when(dt, self.deps.clock.tz)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    text: str


def refuse(text: str) -> Outcome:
    return Outcome(False, text)


def event(ctx: Ctx, issue: Issue, kind: str, actor: str, detail: str = "") -> None:
    """Written with Core (not an ORM object: cheaper on every post), after the issue; in a
    burst of posts, with the burst's other rows (storage.writes.deferred)."""
    events(ctx, issue, [(kind, actor, detail)])


def events(ctx: Ctx, issue: Issue, changes: list[tuple[str, str, str]]) -> None:
    """Several events of one issue in one statement: (kind, actor, detail) each."""
    assert issue.id is not None
    issues.add_events(session=ctx.session, issue_id=issue.id, at=ctx.now, changes=changes)


def owner_of(ctx: Ctx, issue: Issue) -> Person | None:
    """The owner, to read (a copy from the directory: it is needed for nearly every change)."""
    return ctx.deps.directory.person_by_id(ctx.session, issue.owner_id) if issue.owner_id else None


def owner_name(ctx: Ctx, issue: Issue) -> str:
    owner = owner_of(ctx, issue)
    return owner.name if owner else texts.NO_OWNER


def village_name(ctx: Ctx, village_id: int) -> str:
    village = records.by_id(ctx.session, Village, village_id)
    return village.name if village else ""


def is_public(issue: Issue) -> bool:
    """Whether the group may read the issue's text (a 村里事 not held back as unsure)."""
    return issue.kind not in PRIVATE_KINDS and not issue.group_stub


def in_grid_of(actor: Actor, issue: Issue) -> bool:
    p = actor.person
    return (
        p is not None
        and p.active
        and (
            p.role == Role.TOWN_LEADER
            or p.village_id == issue.village_id
            or p.id == issue.owner_id  # a town mediator given the matter
        )
    )


def is_leader_of(actor: Actor, issue: Issue) -> bool:
    p = actor.person
    return p is not None and (
        p.role == Role.TOWN_LEADER
        or (p.role == Role.SECRETARY and p.village_id == issue.village_id)
    )


def grid_refusal(ctx: Ctx, actor: Actor, issue: Issue, action: str) -> Outcome | None:
    if actor.person is None or not actor.person.active:
        return refuse(texts.NOT_GRID.format(action=action))
    if not in_grid_of(actor, issue):
        return refuse(
            texts.OTHER_VILLAGE.format(n=issue.number, village=village_name(ctx, issue.village_id))
        )
    return None


def active_refusal(issue: Issue, action: str) -> Outcome | None:
    if issue.status in ACTIVE_STATUSES:
        return None
    return refuse(
        texts.NOT_ACTIVE.format(
            n=issue.number, status=texts.STATUS_NAMES[issue.status], action=action
        )
    )


def owner_buttons(issue: Issue) -> list[tuple[str, str]]:
    return [
        (texts.BUTTON_CLAIM, f"claim:{issue.number}"),
        (texts.BUTTON_CLOSE, f"close:{issue.number}"),
    ]


def notify_owner_new(ctx: Ctx, issue: Issue, owner: Person, where: str, media: str = "") -> None:
    text = texts.OWNER_NEW.format(
        n=issue.number,
        kind=issue.kind,
        reporter=issue.reporter_name or texts.SOME_VILLAGER,
        where=where,
        text=issue.text or f"（{media}）",
        due=ctx.due_text(issue.due_at),
    )
    if issue.kind == Kind.UNSORTED:
        text += texts.OWNER_NEW_UNSORTED_HINT.format(
            media=media or texts.PHOTO_OR_VOICE, n=issue.number
        )
    elif '"transcript"' in (issue.attachments or ""):  # words heard by speech to text
        text += texts.OWNER_NEW_SPOKEN
    to_person(
        ctx.session,
        owner,
        text,
        now=ctx.now,
        directory=ctx.deps.directory,
        prefer_platform=ctx.platform,
        issue_id=issue.id,
        buttons=owner_buttons(issue),
        category="notice",
    )


def create_issue(
    ctx: Ctx,
    *,
    village_id: int,
    group_id: int | None,
    kind: str,
    text: str,
    reporter_key: str,
    reporter_name: str,
    reporter_chat: str | None,
    attachments: str = "[]",
    group_stub: bool = False,
) -> Issue:
    routed = route(
        ctx.session,
        village_id=village_id,
        group_id=group_id,
        kind=kind,
        directory=ctx.deps.directory,
        text=text,
        reporter=reporter_key,
    )
    owner = routed.owner
    ctx.keep.append(owner)
    values: dict[str, Any] = dict(
        number=issues.next_number(session=ctx.session),
        village_id=village_id,
        group_id=group_id,
        kind=kind,
        text=text,
        reporter=reporter_key,
        reporter_name=reporter_name,
        reporter_chat=reporter_chat,
        owner_id=owner.id if owner else None,
        status=Status.OPEN,
        created_at=ctx.now,
        clock_start=ctx.now,
        due_at=due_for(ctx.deps.grid, kind, ctx.now),
        level=routed.level,  # 组, or 村 (routing.route)
        reports=1,
        attachments=attachments,
        group_stub=group_stub and kind not in PRIVATE_KINDS,
        **(ctx.deps.duplicates.keys(text) if ctx.deps.duplicates else {}),
    )
    issue = issues.add_issue(session=ctx.session, values=values)
    ctx.keep.append(issue)
    counting.counted(ctx.session, ("issue", issue.id or 0), reporter_key.partition(":")[0])
    created = ("created", reporter_name or reporter_key, kind)
    events(
        ctx, issue, [created, ("assigned", texts.SYSTEM_ACTOR, owner.name)] if owner else [created]
    )
    return issue


def claim(ctx: Ctx, issue: Issue, actor: Actor) -> Outcome:
    if r := grid_refusal(ctx, actor, issue, texts.ACT_CLAIM) or active_refusal(
        issue, texts.ACT_CLAIM
    ):
        return r
    assert actor.person is not None
    if issue.status == Status.CLAIMED and issue.owner_id != actor.person.id:
        return refuse(texts.ALREADY_CLAIMED.format(n=issue.number, owner=owner_name(ctx, issue)))
    previous = owner_of(ctx, issue) if issue.owner_id != actor.person.id else None
    if issue.owner_id != actor.person.id:
        issue.owner_id = actor.person.id
        event(ctx, issue, "assigned", actor.label, actor.person.name)
    issue.status = Status.CLAIMED
    issue.claimed_at = ctx.now
    records.keep(ctx.session, issue)
    event(ctx, issue, "claimed", actor.label)
    # The one it was given to was asked to claim it: they must know to stop, as after 指派.
    if previous is not None:
        to_person(
            ctx.session,
            previous,
            texts.OWNER_CLAIMED_AWAY.format(
                actor=actor.label, n=issue.number, summary=_former_owners_summary(issue)
            ),
            now=ctx.now,
            directory=ctx.deps.directory,
            prefer_platform=ctx.platform,
            issue_id=issue.id,
            category="notice",
        )
    return Outcome(
        True, texts.CLAIMED.format(n=issue.number, name=actor.label, due=ctx.due_text(issue.due_at))
    )


def _former_owners_summary(issue: Issue) -> str:
    """What a former owner is told the matter was: no longer its owner, they are no reader of a
    household's or a dispute's words (privacy.sees_text), so the kind, as the group sees it."""
    return short(issue.text, 20) if is_public(issue) else issue.kind


def _settled_level(issue: Issue, closer: Person | None) -> str:
    order = [Level.GROUP, Level.VILLAGE, Level.TOWN]
    by_role = {Role.TOWN_LEADER: Level.TOWN, Role.SECRETARY: Level.VILLAGE}
    closer_level = by_role.get(Role(closer.role), Level.GROUP) if closer else Level.GROUP
    return max(Level(issue.level), closer_level, key=order.index)


def can_finish(actor: Actor, issue: Issue) -> bool:
    """The owner, the village 书记 or a 镇领导 may close, reopen or change the due time."""
    return is_leader_of(actor, issue) or (
        actor.person is not None and actor.person.id == issue.owner_id
    )


def close(ctx: Ctx, issue: Issue, actor: Actor, result: str) -> Outcome:
    if r := grid_refusal(ctx, actor, issue, texts.ACT_CLOSE) or active_refusal(
        issue, texts.ACT_CLOSE
    ):
        return r
    result = result.strip()
    if not result:
        return refuse(texts.CLOSE_NEEDS_RESULT.format(n=issue.number))
    if len(result) > TEXT_LIMIT:
        return refuse(texts.ARGS_TOO_LONG.format(limit=TEXT_LIMIT))
    if not can_finish(actor, issue):
        return refuse(
            texts.ONLY_OWNER.format(
                n=issue.number, owner=owner_name(ctx, issue), action=texts.ACT_CLOSE
            )
        )
    issue.status = Status.CLOSED
    issue.closed_at = ctx.now
    issue.result = result
    issue.settled_level = _settled_level(issue, actor.person)
    records.keep(ctx.session, issue)
    event(ctx, issue, "closed", actor.label, result)
    tell_reporter_result(ctx, issue)
    return Outcome(True, texts.CLOSED_ACTOR.format(n=issue.number))


def rating_buttons(issue: Issue) -> list[tuple[str, str]]:
    return [(label, f"rate:{issue.number}:{v}") for label, v in texts.RATING_BUTTONS]


def tell_reporter_result(ctx: Ctx, issue: Issue) -> None:
    """反馈: the result goes to the group for 村里事, privately otherwise; with a rating request."""
    buttons = rating_buttons(issue)
    group_chat = issue.reporter_chat if issue.group_id is not None else None
    if is_public(issue) and group_chat:
        text = texts.CLOSED_PUBLIC.format(
            n=issue.number, result=issue.result, reporter=issue.reporter_name or texts.THE_REPORTER
        )
        to_chat(
            ctx.session,
            group_chat,
            text + texts.RATE_HINT_WORDS,
            now=ctx.now,
            mention=issue.reporter,
            buttons=buttons,
            issue_id=issue.id,
            category="feedback",
        )
        return
    text = texts.CLOSED_PRIVATE.format(
        n=issue.number, summary=short(issue.text, 20), result=issue.result
    )
    to_sender(
        ctx.session,
        issue.reporter,
        issue.reporter_name,
        text + texts.RATE_HINT_WORDS,
        now=ctx.now,
        buttons=buttons,
        issue_id=issue.id,
        category="feedback",
    )


def add_note(ctx: Ctx, issue: Issue, actor: Actor, text: str) -> Outcome:
    text = text.strip()
    if not text:
        return refuse(texts.NOTE_NEEDS_TEXT.format(n=issue.number))
    if len(text) > TEXT_LIMIT:
        return refuse(texts.ARGS_TOO_LONG.format(limit=TEXT_LIMIT))
    is_reporter = actor.key == issue.reporter
    if not is_reporter and (r := grid_refusal(ctx, actor, issue, texts.ACT_NOTE)):
        return r
    event(ctx, issue, "note", actor.label, text)
    owner = owner_of(ctx, issue)
    if owner and (actor.person is None or actor.person.id != owner.id):
        template = texts.OWNER_NOTE if is_reporter else texts.OWNER_NOTE_FROM
        to_person(
            ctx.session,
            owner,
            template.format(n=issue.number, text=text, name=actor.label),
            now=ctx.now,
            directory=ctx.deps.directory,
            prefer_platform=ctx.platform,
            issue_id=issue.id,
            category="notice",
        )
    if is_reporter and actor.person is None:
        return Outcome(True, texts.NOTE_ADDED.format(n=issue.number, owner=owner_name(ctx, issue)))
    return Outcome(True, texts.NOTE_OK.format(n=issue.number))


MAX_DUE = timedelta(days=366)


def due_refusal(ctx: Ctx, actor: Actor, issue: Issue) -> Outcome | None:
    """Why this person may not change this issue's deadline, or None. Asked before what they
    typed as the date is read: a stranger learns nothing from the date's error."""
    if r := grid_refusal(ctx, actor, issue, texts.ACT_DUE) or active_refusal(issue, texts.ACT_DUE):
        return r
    if not can_finish(actor, issue):
        return refuse(
            texts.ONLY_OWNER.format(
                n=issue.number, owner=owner_name(ctx, issue), action=texts.ACT_DUE
            )
        )
    return None


def set_due(ctx: Ctx, issue: Issue, actor: Actor, due: datetime) -> Outcome:
    if r := due_refusal(ctx, actor, issue):
        return r
    if due <= ctx.now:
        return refuse(texts.DUE_PAST.format(n=issue.number))
    if due - ctx.now > MAX_DUE:
        return refuse(texts.DUE_TOO_FAR.format(n=issue.number))
    issue.due_at = due
    records.keep(ctx.session, issue)
    event(ctx, issue, "due", actor.label, due.isoformat())
    return Outcome(True, texts.DUE_OK.format(n=issue.number, due=ctx.due_text(due)))


def set_kind(ctx: Ctx, issue: Issue, actor: Actor, kind: Kind) -> Outcome:
    if r := grid_refusal(ctx, actor, issue, texts.ACT_KIND) or active_refusal(
        issue, texts.ACT_KIND
    ):
        return r
    old = issue.kind
    issue.kind = kind
    issue.group_stub = False  # a person confirmed the kind: a 村里事 is now the group's to read
    if old == Kind.UNSORTED:
        # The time limit of the real kind starts when the kind is known.
        issue.due_at = max(issue.due_at, due_for(ctx.deps.grid, kind, issue.clock_start))
    records.keep(ctx.session, issue)
    event(ctx, issue, "kind", actor.label, f"{old}→{kind}")
    learning.record_issue(ctx.session, issue, kind, "tag", ctx.now)
    return Outcome(True, texts.TAG_OK.format(n=issue.number, kind=kind))


def assign(ctx: Ctx, issue: Issue, actor: Actor, person: Person) -> Outcome:
    if r := grid_refusal(ctx, actor, issue, texts.ACT_ASSIGN) or active_refusal(
        issue, texts.ACT_ASSIGN
    ):
        return r
    if not is_leader_of(actor, issue):
        return refuse(texts.ONLY_LEADERS.format(action=texts.ACT_ASSIGN))
    # The admin's form sends a person's id: anyone's, when it is forged.
    allowed = assignable(ctx.session, issue)
    if person.id not in {p.id for p in allowed}:
        return refuse(
            texts.ASSIGN_UNKNOWN.format(
                village=village_name(ctx, issue.village_id),
                name=short(person.name, 12),
                names="、".join(p.name for p in allowed),
            )
        )
    previous = owner_of(ctx, issue)
    issue.owner_id = person.id
    issue.status = Status.OPEN
    issue.claimed_at = None
    records.keep(ctx.session, issue)
    event(ctx, issue, "assigned", actor.label, person.name)
    to_person(
        ctx.session,
        person,
        texts.OWNER_ASSIGNED.format(
            actor=actor.label,
            n=issue.number,
            kind=issue.kind,
            text=issue.text,
            due=ctx.due_text(issue.due_at),
        ),
        now=ctx.now,
        directory=ctx.deps.directory,
        prefer_platform=ctx.platform,
        issue_id=issue.id,
        buttons=owner_buttons(issue),
        category="notice",
    )
    # The one who had it must know to stop, or two people work on it (or nobody does).
    if previous is not None and previous.id != person.id and previous.id != _person_id(actor):
        to_person(
            ctx.session,
            previous,
            texts.OWNER_REASSIGNED_AWAY.format(
                actor=actor.label,
                n=issue.number,
                summary=_former_owners_summary(issue),
                owner=person.name,
            ),
            now=ctx.now,
            directory=ctx.deps.directory,
            prefer_platform=ctx.platform,
            issue_id=issue.id,
            category="notice",
        )
    return Outcome(
        True,
        texts.ASSIGNED.format(n=issue.number, owner=person.name, due=ctx.due_text(issue.due_at)),
    )


def _person_id(actor: Actor) -> int | None:
    return actor.person.id if actor.person is not None else None


def assignable(session: Session, issue: Issue) -> list[Person]:
    """Whom the issue may be given to (指派, in the chat and on its admin page): the village's
    people; for a 邻里事 also the town's mediators who serve the village."""
    found = people.village_people(session=session, village_id=issue.village_id)
    if issue.kind == Kind.NEIGHBOUR:
        found += teams.mediators(session=session, village_id=issue.village_id)
    return found


def _restart(ctx: Ctx, issue: Issue) -> None:
    """A reopened matter goes back to its owner with a fresh time limit."""
    issue.status = Status.CLAIMED if issue.claimed_at else Status.OPEN
    issue.clock_start = ctx.now
    issue.due_at = due_for(ctx.deps.grid, issue.kind, ctx.now)
    issue.closed_at = None
    issue.settled_level = None
    # The old result is history (on the timeline), not what the matter stands at now.
    issue.result = None
    issue.rating = None
    issue.rated_at = None
    records.keep(ctx.session, issue)


def reopen(ctx: Ctx, issue: Issue, actor: Actor, reason: str = "") -> Outcome:
    if r := grid_refusal(ctx, actor, issue, texts.ACT_REOPEN):
        return r
    if issue.status != Status.CLOSED:
        if issue.status == Status.WITHDRAWN:
            return refuse(
                texts.NOT_ACTIVE.format(
                    n=issue.number, status=texts.STATUS_NAMES["withdrawn"], action=texts.ACT_REOPEN
                )
            )
        return refuse(texts.NOT_CLOSED.format(n=issue.number))
    if not can_finish(actor, issue):
        return refuse(
            texts.ONLY_OWNER.format(
                n=issue.number, owner=owner_name(ctx, issue), action=texts.ACT_REOPEN
            )
        )
    _restart(ctx, issue)
    event(ctx, issue, "reopened", actor.label, reason)
    said = reason or texts.REOPEN_ASKED.format(name=actor.label)
    _tell_owner_reopened(ctx, issue, said)
    _tell_reporter_reopened(ctx, issue, said)
    return Outcome(
        True,
        texts.REOPENED.format(
            n=issue.number, owner=owner_name(ctx, issue), due=ctx.due_text(issue.due_at)
        ),
    )


def _tell_owner_reopened(ctx: Ctx, issue: Issue, reason: str) -> None:
    owner = owner_of(ctx, issue)
    if owner:
        to_person(
            ctx.session,
            owner,
            texts.OWNER_REOPENED.format(
                n=issue.number, reason=reason, due=ctx.due_text(issue.due_at)
            ),
            now=ctx.now,
            prefer_platform=ctx.platform,
            issue_id=issue.id,
            buttons=owner_buttons(issue),
            category="notice",
        )


def _tell_reporter_reopened(ctx: Ctx, issue: Issue, reason: str) -> None:
    """The villager was told it is done and asked to rate: now they hear it is not, and that
    a rating is asked again once it is (where the result went: the group or privately)."""
    values = dict(
        n=issue.number,
        reason=reason,
        owner=owner_name(ctx, issue),
        due=ctx.due_text(issue.due_at),
    )
    group_chat = issue.reporter_chat if issue.group_id is not None else None
    if is_public(issue) and group_chat:
        to_chat(
            ctx.session,
            group_chat,
            texts.REPORTER_REOPENED_PUBLIC.format(
                **values, reporter=issue.reporter_name or texts.THE_REPORTER
            ),
            now=ctx.now,
            mention=issue.reporter,
            issue_id=issue.id,
            category="feedback",
        )
        return
    to_sender(
        ctx.session,
        issue.reporter,
        issue.reporter_name,
        texts.REPORTER_REOPENED_PRIVATE.format(**values, summary=short(issue.text, 20)),
        now=ctx.now,
        issue_id=issue.id,
        category="feedback",
    )


def withdraw(ctx: Ctx, issue: Issue, actor: Actor) -> Outcome:
    if actor.key != issue.reporter:
        return refuse(texts.ONLY_REPORTER.format(n=issue.number))
    if r := active_refusal(issue, texts.ACT_WITHDRAW):
        return r
    issue.status = Status.WITHDRAWN
    issue.closed_at = ctx.now
    records.keep(ctx.session, issue)
    event(ctx, issue, "withdrawn", actor.label)
    learning.record_issue(ctx.session, issue, NOT_MATTER, "withdraw", ctx.now)
    owner = owner_of(ctx, issue)
    if owner:
        to_person(
            ctx.session,
            owner,
            texts.OWNER_WITHDRAWN.format(n=issue.number),
            now=ctx.now,
            directory=ctx.deps.directory,
            prefer_platform=ctx.platform,
            issue_id=issue.id,
            category="notice",
        )
    return Outcome(True, texts.WITHDRAWN.format(n=issue.number))


RATING_WINDOW = timedelta(days=3)  # no rating within 3 days counts as "not rated"


def rate(ctx: Ctx, issue: Issue, actor: Actor, rating: Rating) -> Outcome:
    if actor.key != issue.reporter:
        return refuse(texts.RATING_NOT_YOURS.format(n=issue.number))
    if issue.status in ACTIVE_STATUSES:
        # Reopened after the rating was asked: the old buttons ask again once it is closed.
        return refuse(texts.RATING_REOPENED.format(n=issue.number))
    if issue.status != Status.CLOSED or issue.rating is not None:
        return refuse(texts.RATING_ALREADY.format(n=issue.number))
    if issue.closed_at and ctx.now - issue.closed_at > RATING_WINDOW:
        return refuse(texts.BUTTON_STALE)
    issue.rating = rating
    issue.rated_at = ctx.now
    records.keep(ctx.session, issue)
    event(ctx, issue, "rated", actor.label, rating)
    if rating != Rating.UNSATISFIED:
        return Outcome(True, texts.RATING_THANKS.format(n=issue.number, rating=rating.value))
    result = issue.result or ""
    _restart(ctx, issue)
    event(ctx, issue, "reopened", actor.label, texts.REOPEN_UNSATISFIED)
    _tell_owner_reopened(ctx, issue, texts.REOPEN_UNSATISFIED)
    sec = people.secretary(session=ctx.session, village_id=issue.village_id)
    if sec:
        to_person(
            ctx.session,
            sec,
            texts.SECRETARY_UNSATISFIED.format(
                n=issue.number, kind=issue.kind, owner=owner_name(ctx, issue), result=result
            ),
            now=ctx.now,
            directory=ctx.deps.directory,
            prefer_platform=ctx.platform,
            issue_id=issue.id,
            category="notice",
        )
    return Outcome(
        True,
        texts.RATING_UNSATISFIED.format(
            n=issue.number, owner=owner_name(ctx, issue), due=ctx.due_text(issue.due_at)
        ),
    )


def awaiting_rating(ctx: Ctx, reporter_key: str) -> Issue | None:
    """The reporter's latest closed, unrated issue still inside the rating window (one merged
    into another asks for no rating: see storage.issues.awaiting_rating)."""
    return issues.awaiting_rating(
        session=ctx.session, reporter=reporter_key, closed_since=ctx.now - RATING_WINDOW
    )


def attachments_of(issue: Issue) -> list[dict[str, str]]:
    return list(json.loads(issue.attachments or "[]"))
