"""Tables. Every state change of an issue is also an Event row (timeline, audit, figures)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint, event, inspect
from sqlalchemy import literal_column as sql_literal
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel


class Kind(StrEnum):
    VILLAGE = "村里事"  # public or collective matter
    NEIGHBOUR = "邻里事"  # dispute between households
    HOUSEHOLD = "户里事"  # one household's own matter
    UNSORTED = "待分类"  # voice/photo only: the owner sets the kind


NOT_MATTER = "非事项"
KINDS = (Kind.VILLAGE, Kind.NEIGHBOUR, Kind.HOUSEHOLD)
# Kinds whose text the group never sees (privacy stub only).
PRIVATE_KINDS = (Kind.NEIGHBOUR, Kind.HOUSEHOLD, Kind.UNSORTED)


class Status(StrEnum):
    OPEN = "open"  # 待认领
    CLAIMED = "claimed"  # 办理中
    CLOSED = "closed"  # 已办结
    WITHDRAWN = "withdrawn"  # 已撤回


ACTIVE_STATUSES = (Status.OPEN, Status.CLAIMED)


def is_active(status_column: Any) -> Any:
    """`status IN ('open', 'claimed')` written into the SQL: a bound IN list is expanded anew
    at every execution, which showed on the per-post path."""
    return status_column.in_([sql_literal(f"'{s.value}'") for s in ACTIVE_STATUSES])


class Role(StrEnum):
    TOWN_LEADER = "镇领导"  # top of the escalation ladder
    SECRETARY = "书记"  # supervises, assigns, gets the digest
    CADRE = "村干部"
    GRID = "网格员"
    MEDIATOR = "调解员"


class Level(StrEnum):
    """Where a matter was settled: 组 / 村 / 镇 (小事不出村、大事不出镇)."""

    GROUP = "group"
    VILLAGE = "village"
    TOWN = "town"


class Rating(StrEnum):
    SATISFIED = "满意"
    FAIR = "基本满意"
    UNSATISFIED = "不满意"


class Village(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    active: bool = True
    position: int = 0


class ChatGroup(SQLModel, table=True):
    """A 说事群: one group of a village, reachable through one or more chats."""

    id: int | None = Field(default=None, primary_key=True)
    village_id: int = Field(foreign_key="village.id", index=True)
    name: str = Field(unique=True)
    active: bool = True
    position: int = 0


class GroupChat(SQLModel, table=True):
    """A platform chat ("telegram:-100…", "wechat:…@chatroom") bound to a group."""

    id: int | None = Field(default=None, primary_key=True)
    chat_key: str = Field(unique=True)
    group_id: int = Field(foreign_key="chatgroup.id", index=True)
    active: bool = True


class Person(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("village_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str
    role: str
    village_id: int | None = Field(default=None, foreign_key="village.id", index=True)
    kinds: str = ""  # comma separated kinds this person takes as owner
    active: bool = True
    position: int = 0
    # The title as the grid file writes it (主任, 组长, 镇党委书记…); `role` is its duty, what it
    # means to the product (storage.grid.DUTIES). Empty: written before titles (migration 0015).
    title: str = ""
    # A town person (a mediator): the villages served, "|新联村|石桥村|"; empty: every village.
    serves: str = ""

    def kind_list(self) -> list[str]:
        return [k for k in self.kinds.split(",") if k]


class PersonId(SQLModel, table=True):
    """A platform identity ("telegram:10001", "local:张姐") of a person in the grid."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    from_file: bool = True


class GroupMember(SQLModel, table=True):
    """The owner pool of a group, in file order."""

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="chatgroup.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    position: int = 0


class Inbound(SQLModel, table=True):
    """Every message the bot received, recorded before it is handled (the inbox)."""

    __table_args__ = (
        UniqueConstraint("platform", "chat", "message_id"),
        Index("ix_inbound_status_received", "status", "received_at"),
        Index("ix_inbound_status_retry", "status", "retry_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str
    chat: str
    message_id: str
    private: bool = False
    sender: str  # "platform:user id"
    sender_name: str = ""
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    reply_to: str | None = None
    button: str | None = None
    attachments: str = "[]"  # JSON list of attachments
    received_at: datetime
    # new → handled statuses: matter, chatter, unsure (kept, not registered), command, note,
    # rating, duplicate, ignored, registered (an unsure post registered later); "failed" when
    # handling it failed `tries` times: set aside (listed by `shuoshi inbox`, the status page,
    # /metrics), never again in the way of the messages after it.
    status: str = "new"
    tries: int = 0  # failed handlings so far
    retry_at: datetime | None = None  # when a failed handling is tried again
    error: str | None = None  # the last failure, one line (no text of the message)
    label: str | None = None
    confidence: float | None = None
    group_id: int | None = Field(default=None, foreign_key="chatgroup.id")
    issue_id: int | None = Field(default=None, foreign_key="issue.id")


class Issue(SQLModel, table=True):
    __table_args__ = (
        Index("ix_issue_status_due", "status", "due_at"),
        Index("ix_issue_village_status", "village_id", "status"),
        Index("ix_issue_owner_status", "owner_id", "status"),
        # The admin list (migration 0004): each filter with the newest-first order, the due
        # order, and overdue counts from the index alone.
        Index("ix_issue_new", "created_at", "id"),
        Index("ix_issue_village_new", "village_id", "created_at", "id"),
        Index("ix_issue_group_new", "group_id", "created_at", "id"),
        Index("ix_issue_kind_new", "kind", "created_at", "id"),
        Index("ix_issue_status_new", "status", "created_at", "id"),
        Index("ix_issue_owner_new", "owner_id", "created_at", "id"),
        Index("ix_issue_due", "due_at", "id"),
        Index("ix_issue_closed", "closed_at"),
        Index(
            "ix_issue_due_cover", "status", "due_at", "village_id", "group_id", "kind", "owner_id"
        ),
        # Duplicate detection (migrations 0007, 0009, 0010): open matters of one village, kind
        # and topic, newest first, and the 组 they name.
        Index("ix_issue_topic", "village_id", "kind", "topic", "created_at", "status", "groups"),
    )
    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True)
    village_id: int = Field(foreign_key="village.id")
    group_id: int | None = Field(default=None, foreign_key="chatgroup.id")
    kind: str
    text: str = Field(sa_column=Column(Text, nullable=False))
    reporter: str  # "platform:user id"
    reporter_name: str = ""
    reporter_chat: str | None = None  # "platform:chat" where it was reported
    owner_id: int | None = Field(default=None, foreign_key="person.id")
    status: str = Status.OPEN
    created_at: datetime
    clock_start: datetime  # start of the current time limit (reset on reopen)
    due_at: datetime
    claimed_at: datetime | None = None
    closed_at: datetime | None = None
    result: str | None = None
    rating: str | None = None
    rated_at: datetime | None = None
    level: str = Level.GROUP  # highest level the matter reached
    settled_level: str | None = None
    reports: int = 1  # how many people reported it (duplicates linked)
    attachments: str = "[]"
    # The group sees only the stub although the kind is 村里事: the bot was not sure it is not
    # a household's or a dispute's matter (classifier.base.decide). Changing the kind, by
    # its owner, publishes it (or keeps it private under the private kind).
    group_stub: bool = False
    # What it is about, as duplicate detection names it (classifier.duplicates.topic_of): a post
    # is compared only with matters of its own topic. None: registered before topics existed.
    topic: str | None = None
    # The 组 it names ("|三|五|", migration 0009): a post naming other 组 is not compared with
    # it. None: it names none, or was registered before.
    groups: str | None = None


class Event(SQLModel, table=True):
    """One change of an issue: created, assigned, claimed, note, due, kind, closed, rated,
    reopened, withdrawn, escalated, report."""

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", index=True)
    kind: str
    actor: str  # person name, reporter key, or "系统"
    at: datetime = Field(index=True)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class Outbox(SQLModel, table=True):
    """Every outgoing message is a row first; a sender delivers it and marks it sent."""

    __table_args__ = (
        Index("ix_outbox_status_not_before", "status", "not_before"),
        # A sender's claim: its own platforms' due rows, oldest first (migration 0008).
        Index("ix_outbox_status_platform_due", "status", "platform", "not_before", "id", "chat"),
        Index("ix_outbox_sent_message", "platform", "chat", "platform_message_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str
    chat: str  # platform chat id (group) or user id (private)
    private: bool = False
    recipient: str = ""  # display name (group name or person name) for transcripts and logs
    mention: str | None = None  # "platform:user id" addressed in a group
    text: str = Field(sa_column=Column(Text, nullable=False))
    buttons: str = "[]"  # JSON [[label, data], …]
    issue_id: int | None = Field(default=None, foreign_key="issue.id", index=True)
    reply_to: str | None = None  # platform message id answered
    category: str = "reply"  # reply, notice, reminder, overdue, escalation, todo, digest
    dedupe_key: str | None = Field(default=None, unique=True)
    created_at: datetime
    not_before: datetime
    status: str = "pending"  # pending, sending (claimed by a sender), sent, failed
    tries: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    platform_message_id: str | None = None
    image: str | None = None  # path of a PNG (digest chart) sent along where the platform can
    # The claim of the sender delivering the row ("host:pid:token") and its lease: a sender that
    # dies mid-send leaves the row "sending", and it is taken again once the lease has passed.
    claimed_by: str | None = None
    claimed_until: datetime | None = None


class BindCode(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True)
    person_id: int = Field(foreign_key="person.id")
    created_at: datetime
    used_at: datetime | None = None


class Seen(SQLModel, table=True):
    """The group a sender was last seen in (the village of a private report)."""

    sender: str = Field(primary_key=True)
    group_id: int = Field(foreign_key="chatgroup.id")
    at: datetime


class Pending(SQLModel, table=True):
    """A question the bot asked and whose answer is the sender's next message
    (the result after pressing 办结, the village of a private report)."""

    sender: str = Field(primary_key=True)
    action: str  # close_result, choose_village
    issue_id: int | None = None
    inbound_id: int | None = None
    at: datetime


class Counter(SQLModel, table=True):
    """Named counters (issue numbers), incremented under a row lock."""

    name: str = Field(primary_key=True)
    value: int = 0


# --- scheduler ---------------------------------------------------------------------------------


class Reminder(SQLModel, table=True):
    """One thing the scheduler owes one person: a reminder, 督办 or escalation of an issue in
    one cycle (clock_start), a daily to-do, a digest. The unique key is what makes "no one gets
    the same reminder twice" hold across restarts and instances. Rows wait as "held" (quiet
    hours) until a dispatch merges a person's rows into one outbox message ("queued")."""

    # Only the few rows waiting out the quiet hours are indexed: most rows are written already
    # sent and never looked up by status.
    __table_args__ = (
        Index(
            "ix_reminder_held",
            "person_id",
            sqlite_where=sql_text("status = 'held'"),
            postgresql_where=sql_text("status = 'held'"),
        ),
    )
    # No foreign keys: a sweep writes thousands of these rows at once and the per-row checks
    # were half its cost, while issues and people are never deleted (people are deactivated).
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    issue_id: int | None = Field(default=None, index=True)
    person_id: int | None = None
    stage: str  # unclaimed, reminder, overdue, escalation, todo, digest, town_digest
    due_at: datetime  # the moment it fell due
    created_at: datetime
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    image: str | None = None
    status: str = "held"  # held, queued (an outbox row carries it), skipped (superseded)
    outbox_id: int | None = None


class JobRun(SQLModel, table=True):
    """A periodic job done for one period (todo 2026-11-24, digest 2026-W48); the unique row is
    the claim, so a restart or a second instance never runs it twice."""

    __table_args__ = (UniqueConstraint("job", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    job: str
    period: str
    at: datetime


class IssueCheck(SQLModel, table=True):
    """When the scheduler must look at an open issue next (reminder, 督办, escalation). One
    narrow row per issue still being chased, none for the closed: a sweep reads only what is
    due through the index, and moving a check on never rewrites the wide, many-indexed issue
    row. Kept by the listeners below, so handlers need not know about the scheduler."""

    issue_id: int = Field(primary_key=True, foreign_key="issue.id")
    next_check_at: datetime = Field(index=True)


_RECHECK_FIELDS = ("status", "clock_start", "due_at", "owner_id", "kind", "claimed_at")
_CHECKS = SQLModel.metadata.tables["issuecheck"]


def check_of(*, issue_id: int | None, status: str, clock_start: datetime) -> dict[str, Any] | None:
    """The rule, written once: an open issue has a check row, due at its `clock_start`; a
    closed or withdrawn one has none. clock_start is never later than any moment the
    scheduler acts on, so the next sweep sees the issue once, works out its real next moment
    and stores that. The listeners below apply it to issues written as objects,
    `storage.writes.insert_issue` to those written with Core."""
    if status not in ACTIVE_STATUSES:
        return None
    return {"issue_id": issue_id, "next_check_at": clock_start}


@event.listens_for(Issue, "after_insert")
def _first_check(_mapper: Any, conn: Any, issue: Issue) -> None:
    check = check_of(issue_id=issue.id, status=issue.status, clock_start=issue.clock_start)
    if check is not None:
        conn.execute(_CHECKS.insert().values(**check))


@event.listens_for(Issue, "before_update")
def _recheck(_mapper: Any, conn: Any, issue: Issue) -> None:
    # A new due time, a reopen, a new owner… may move a moment earlier: look again at once (the
    # sweep recomputes); a closed or withdrawn matter is no longer chased.
    state = inspect(issue)
    if not any(state.attrs[name].history.has_changes() for name in _RECHECK_FIELDS):
        return
    check = check_of(issue_id=issue.id, status=issue.status, clock_start=issue.clock_start)
    if check is None:
        conn.execute(_CHECKS.delete().where(_CHECKS.c.issue_id == issue.id))
        return
    moved = conn.execute(
        _CHECKS.update()
        .where(_CHECKS.c.issue_id == issue.id)
        .values(next_check_at=check["next_check_at"])
    )
    if moved.rowcount == 0:
        conn.execute(_CHECKS.insert().values(**check))


class AdminLogin(SQLModel, table=True):
    """A grid person's password for the admin pages (`shuoshi set-password NAME`), argon2."""

    person_id: int = Field(primary_key=True, foreign_key="person.id")
    password_hash: str
    set_at: datetime


class ApiToken(SQLModel, table=True):
    """A program's access to /api/ on behalf of a person (`shuoshi api-token NAME`).
    Only the SHA-256 of the token is kept; the token itself is shown once."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    token_hash: str = Field(unique=True)
    label: str = ""
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


# --- operations --------------------------------------------------------------------------------


class Lease(SQLModel, table=True):
    """A duty only one instance may perform at a time (a WeChat gateway's event stream), held
    by `holder` until `expires_at` and renewed before then (storage/lease.py). Times are UTC.
    `epoch` grows by one each time the lease changes hands (a fencing token)."""

    name: str = Field(primary_key=True)
    holder: str
    epoch: int = 0
    acquired_at: datetime
    expires_at: datetime


class IssueTally(SQLModel, table=True):
    """How many issues there are per village, group, kind, status and owner (0: none), kept by
    database triggers on `issue` (migration 0004): the admin list's counts without counting."""

    village_id: int = Field(primary_key=True)
    group_id: int = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    status: str = Field(primary_key=True)
    owner_id: int = Field(primary_key=True)
    n: int = 0


# --- learning ----------------------------------------------------------------------------------


class LabeledExample(SQLModel, table=True):
    """A deployment's own labeled post, from a correction: a /tag change (source "tag"), an
    unregistered post registered ("register", or "admin:NAME" from the admin pages), a
    withdrawn issue ("withdraw", label 非事项). `shuoshi train` learns from them."""

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    label: str  # 村里事, 邻里事, 户里事 or 非事项
    source: str
    created_at: datetime = Field(index=True)
    village_id: int | None = Field(default=None, foreign_key="village.id")


# --- villagers' groups (组) ------------------------------------------------------------------


class Team(SQLModel, table=True):
    """A villagers' group (组/社) of a village: the first rung of the ladder (小事不出组)."""

    __table_args__ = (UniqueConstraint("village_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    village_id: int = Field(foreign_key="village.id", index=True)
    name: str  # 三组
    aliases: str = ""  # "|3组|第三村民小组|三社|"
    active: bool = True
    position: int = 0


class TeamMember(SQLModel, table=True):
    """A 组's people (组长, ten-household members), in file order."""

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    position: int = 0


class Residence(SQLModel, table=True):
    """The 组 a villager lives in, as they told the bot ("我是三组的") or a cadre set it."""

    sender: str = Field(primary_key=True)  # "platform:user id"
    team_id: int = Field(foreign_key="team.id")
    set_by: str  # the sender themself, or the cadre's name
    at: datetime


# --- 议事 and 回访 (issue 19) -------------------------------------------------------------------


class Vote(SQLModel, table=True):
    """议事: a question about a 村里事 put to its group by a 书记, open until `closes_at`;
    `closed_at` and `result` (JSON counts) once the result was posted."""

    __table_args__ = (Index("ix_vote_open", "closed_at", "closes_at"),)
    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", index=True)
    group_id: int = Field(foreign_key="chatgroup.id")
    question: str = Field(sa_column=Column(Text, nullable=False))
    choices: str  # JSON list of the choices' words, in order
    opened_by: str  # the 书记's name
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None = None
    result: str | None = None  # JSON {"counts": [...], "voters": n, "members": m}


class Ballot(SQLModel, table=True):
    """One person's vote: one row per voter, the last choice counts."""

    __table_args__ = (UniqueConstraint("vote_id", "voter"),)
    id: int | None = Field(default=None, primary_key=True)
    vote_id: int = Field(foreign_key="vote.id")
    voter: str  # "platform:user id"
    voter_name: str = ""
    choice: int  # index into Vote.choices
    at: datetime


class VotePoll(SQLModel, table=True):
    """A vote sent as a Telegram native poll: its poll id (what poll_answer updates name) and
    the message to stop at the deadline."""

    poll_id: str = Field(primary_key=True)
    vote_id: int = Field(foreign_key="vote.id", index=True)
    chat: str  # the Telegram chat id
    message_id: str


class Visit(SQLModel, table=True):
    """回访: the owner's visit after a 户里事 or 邻里事 was closed, due N days later (the next
    day after a 不满意 rating); done when the owner records it."""

    __table_args__ = (Index("ix_visit_pending", "done_at", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", index=True)
    source_event: int = Field(unique=True)  # the "closed" (or "rated") event it follows
    reason: str  # closed, unsatisfied
    due_at: datetime
    created_at: datetime
    reminded_at: datetime | None = None  # the owner was told it is due (again if moved earlier)
    done_at: datetime | None = None
    done_by: str | None = None
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


# The admin's own tables (sessions, failed log-ins) live beside it; imported here so that the
# metadata every migration and test compares against knows them.
import storage.admin_tables  # noqa: E402

# The 说事码's tables (issue 19) live beside it, like the admin's.
import storage.report_tables  # noqa: E402, F401
