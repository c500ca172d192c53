"""督办: the moments at which an open issue is chased, and who is told.

Within one cycle of an issue (from `clock_start`, reset on reopen) with time limit
L = due_at − clock_start:
  unclaimed   assigned + 4 h, while nobody has claimed it  → the owner
  reminder    clock_start + 75 % of L                       → the owner
  overdue     due_at                                        → the owner and the village 书记
                                                              (a 组's matter: and the village pool)
  escalation  due_at + 100 % of L                           → the town's 镇领导, naming the village
(no owner: the owner's messages go to the 书记). The ladder is 组 → 村 → 镇: an issue's level
rises to "village" at overdue and to "town" at escalation, each rise an "escalated" event; a
matter still at 组 level with one of its 组's people (handlers.routing) goes at overdue to the
rung above, the village's owner pool and its 书记.

Each stage is recorded as Reminder rows under a key made of the stage, the issue and the cycle,
so it is sent once per cycle; when the sweep finds several stages of one issue due at once
(after downtime or quiet hours), an owner reminder overtaken by a later stage is recorded as
skipped instead of sent. A new due time keeps the cycle: stages already sent stay sent, the
others move with it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlmodel import Session

from handlers import texts
from handlers.privacy import privacy_kind, short
from scheduler.config import SchedulerConfig
from storage import issues, schedule, teams
from storage import people as grid_people
from storage.models import PRIVATE_KINDS, Level, Role, Status

log = logging.getLogger(__name__)

OWNER_STAGES = ("unclaimed", "reminder")  # overtaken by a later stage due at the same sweep
# Plain strings, compared tens of thousands of times a sweep.
ACTIVE = frozenset({Status.OPEN.value, Status.CLAIMED.value})
LEVEL_RANK = {Level.GROUP.value: 0, Level.VILLAGE.value: 1, Level.TOWN.value: 2}
STAGE_LEVEL = {"overdue": Level.VILLAGE.value, "escalation": Level.TOWN.value}


class Stage(NamedTuple):  # a tuple: a sweep makes tens of thousands
    name: str
    at: datetime
    key: str


class Who(NamedTuple):
    id: int
    name: str


@dataclass
class GridSnapshot:
    """The grid as the scheduler needs it, read once per sweep (a few hundred rows at most),
    as plain values: a sweep looks people up tens of thousands of times."""

    people: dict[int, Who]  # the active ones
    secretaries: dict[int, list[Who]]  # by village, in file order
    leaders: list[Who]
    villages: dict[int, str]
    pools: dict[int, list[Who]] = field(default_factory=dict)  # the village's owner pool (村)
    in_teams: dict[int, set[int]] = field(default_factory=dict)  # by village: a 组's people

    @classmethod
    def load(cls, session: Session) -> GridSnapshot:
        rows = sorted(
            (p for p in grid_people.all_people(session=session) if p.active and p.id),
            key=lambda p: p.position,
        )
        people = {p.id: Who(p.id, p.name) for p in rows if p.id is not None}
        secretaries: dict[int, list[Who]] = {}
        for p in rows:
            if p.role == Role.SECRETARY and p.village_id is not None:
                secretaries.setdefault(p.village_id, []).append(people[p.id or 0])
        leaders = [people[p.id or 0] for p in rows if p.role == Role.TOWN_LEADER]
        villages = {
            v.id: v.name for v in grid_people.all_villages(session=session) if v.id is not None
        }
        pools = {
            village_id: [people[i] for i in ids if i in people]
            for village_id, ids in teams.village_pools(session=session).items()
        }
        return cls(
            people, secretaries, leaders, villages, pools, teams.members_in_teams(session=session)
        )

    def owner(self, owner_id: int | None) -> Who | None:
        return self.people.get(owner_id) if owner_id is not None else None


def span(delta: timedelta) -> str:
    """A duration in words: 3天, 18小时, 40分钟 (rounded down, never below one unit)."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 86400:
        return texts.SPAN_DAYS.format(d=seconds // 86400)
    if seconds >= 3600:
        return texts.SPAN_HOURS.format(h=seconds // 3600)
    return texts.SPAN_MINUTES.format(m=max(1, seconds // 60))


def stages(row: Any, cfg: SchedulerConfig, assigned_at: datetime | None) -> list[Stage]:
    """The stages of this issue's current cycle, in time order."""
    start, due = row.clock_start, row.due_at
    limit = max(due - start, timedelta(0))
    cycle = f"{row.id}:{int(start.timestamp())}"
    out: list[Stage] = []
    if cfg.unclaimed_after is not None and row.status == "open":
        # Counted from when the present owner got it, so a reassigned matter gives its new owner
        # the same four hours (and its own reminder).
        base = assigned_at if assigned_at is not None and assigned_at > start else start
        at = base + cfg.unclaimed_after
        if at < due:
            key = f"unclaimed:{cycle}:{row.owner_id}:{int(base.timestamp())}"
            out.append(Stage("unclaimed", at, key))
    if cfg.reminder_at is not None and cfg.reminder_at < 1:
        out.append(Stage("reminder", start + limit * cfg.reminder_at, "reminder:" + cycle))
    out.append(Stage("overdue", due, "overdue:" + cycle))
    if cfg.escalate_at is not None:
        out.append(Stage("escalation", due + limit * cfg.escalate_at, "escalation:" + cycle))
    out.sort(key=_at)
    return out


def _at(stage: Stage) -> datetime:
    return stage.at


def stage_of_key(key: str) -> str:
    """The stage part of a Reminder key ("overdue:12:1795000000>3" → "overdue:12:1795000000")."""
    return key.split(">", 1)[0]


@dataclass
class BatchResult:
    issues: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)  # Reminder rows owed
    events: list[dict[str, Any]] = field(default_factory=list)
    levels: list[dict[str, Any]] = field(default_factory=list)  # issues whose level rose
    checks: list[dict[str, Any]] = field(default_factory=list)  # next check (None: done)


def process_due(
    session: Session,
    *,
    now: datetime,
    cfg: SchedulerConfig,
    directory: GridSnapshot,
    limit: int,
) -> BatchResult:
    """Claim up to `limit` issues whose next check has come (row locks, SKIP LOCKED: a second
    instance takes other rows), work out what is owed, raise levels, move each check on.
    The owed rows are returned for the caller to hold or send, in this same transaction."""
    # Two steps, so that each is an index lookup whatever the planner thinks of the sizes: the
    # due checks (locked: a second instance skips them; a handler changing one of these issues
    # waits for this transaction), then their issues by primary key.
    ids = schedule.due_checks(session=session, now=now, limit=limit)
    batch = BatchResult(issues=len(ids))
    if not ids:
        return batch
    rows = issues.sweep_rows(session=session, ids=ids)
    if len(rows) < len(ids):  # a check without its issue cannot be: drop it, do not loop
        found = {r.id for r in rows}
        batch.checks += [{"issue_id": i, "next_check_at": None} for i in ids if i not in found]
    done = {stage_of_key(k) for k in schedule.owed_keys(session=session, issue_ids=ids)}
    open_ids = [r.id for r in rows if r.status == Status.OPEN]
    assigned: dict[int, datetime] = {}
    if open_ids and cfg.unclaimed_after is not None:
        assigned = issues.last_assigned(session=session, issue_ids=open_ids)
    for row in rows:
        _one(row, now=now, cfg=cfg, directory=directory, done=done, assigned=assigned, out=batch)
    if batch.events:
        issues.write_events(session=session, rows=batch.events)
    issues.set_levels(session=session, rows=batch.levels)
    finished = [u["issue_id"] for u in batch.checks if u["next_check_at"] is None]
    schedule.drop_checks(session=session, issue_ids=finished)
    schedule.move_checks(
        session=session, rows=[u for u in batch.checks if u["next_check_at"] is not None]
    )
    return batch


def _one(
    row: Any,
    *,
    now: datetime,
    cfg: SchedulerConfig,
    directory: GridSnapshot,
    done: set[str],
    assigned: dict[int, datetime],
    out: BatchResult,
) -> None:
    issue_id = row.id
    if row.status not in ACTIVE:  # closed meanwhile: no longer chased
        out.checks.append({"issue_id": issue_id, "next_check_at": None})
        return
    due: list[Stage] = []
    next_at: datetime | None = None
    for stage in stages(row, cfg, assigned.get(issue_id)):
        if stage.key in done:
            continue
        if stage.at <= now:
            due.append(stage)
        elif next_at is None:
            next_at = stage.at  # stages come in time order
    level = row.level
    for stage in due:
        if stage.name in OWNER_STAGES and stage.at < due[-1].at:
            out.rows.append(_row(stage, issue_id, None, "", now, status="skipped"))
            continue
        recipients = _recipients(stage, row, directory, now, cfg)
        if not recipients:  # nobody to tell (no 书记, no 镇领导): done all the same
            out.rows.append(_row(stage, issue_id, None, "", now, status="skipped"))
        for person, text in recipients:
            out.rows.append(_row(stage, issue_id, person, text, now))
        reached = STAGE_LEVEL.get(stage.name)
        if reached is not None and LEVEL_RANK[reached] > LEVEL_RANK.get(level, 0):
            level = reached
            out.events.append(
                issues.event_row(
                    issue_id=issue_id,
                    kind="escalated",
                    actor=texts.SYSTEM_ACTOR,
                    at=now,
                    detail=reached,
                )
            )
    if level != row.level:
        out.levels.append({"id": issue_id, "level": level})
    out.checks.append({"issue_id": issue_id, "next_check_at": next_at})


def _row(
    stage: Stage, issue_id: int, person: Who | None, text: str, now: datetime, status: str = "held"
) -> dict[str, Any]:
    return schedule.reminder_row(
        key=f"{stage.key}>{person.id if person else '-'}",
        issue_id=issue_id,
        person_id=person.id if person else None,
        stage=stage.name,
        due_at=stage.at,
        created_at=now,
        text=text,
        status=status,
    )


def _recipients(
    stage: Stage, row: Any, d: GridSnapshot, now: datetime, cfg: SchedulerConfig
) -> list[tuple[Who, str]]:
    owner = d.owner(row.owner_id)
    secretaries = d.secretaries.get(row.village_id, [])
    owner_name = owner.name if owner else texts.NO_OWNER
    common = {
        "n": row.number,
        "kind": row.kind,
        "summary": _summary(row.text),
        "due": _when(row.due_at, now.tzinfo),
    }
    if stage.name == "unclaimed":
        text = texts.REMIND_UNCLAIMED.format(
            hours=span(cfg.unclaimed_after or timedelta(0)), **common
        )
        return [(p, text) for p in ([owner] if owner else secretaries)]
    if stage.name == "reminder":
        text = texts.REMIND_DUE.format(**common)
        return [(p, text) for p in ([owner] if owner else secretaries)]
    if stage.name == "overdue":
        out = [(owner, texts.OVERDUE_OWNER.format(**common))] if owner else []
        text = texts.OVERDUE_SECRETARY.format(owner=owner_name, **common)
        out += [(p, text) for p in secretaries if owner is None or p.id != owner.id]
        in_team = owner is not None and owner.id in d.in_teams.get(row.village_id, ())
        if in_team and row.level == Level.GROUP.value:  # still at 组 level: the 村 rung above
            told = {p.id for p, _ in out}
            # The pool is no reader of a household's or a dispute's words (privacy.sees_text):
            # it learns the stub, as the group does, and asks the 书记 or is assigned for more.
            stub = privacy_kind(row.kind, bool(row.group_stub)) in PRIVATE_KINDS
            pool_common = {**common, "summary": ""} if stub else common
            text = texts.OVERDUE_VILLAGE_POOL.format(owner=owner_name, **pool_common)
            out += [(p, text) for p in d.pools.get(row.village_id, []) if p.id not in told]
        return out
    text = texts.ESCALATED_TOWN.format(
        village=d.villages.get(row.village_id, ""),
        late=span(now - row.due_at),
        owner=owner_name,
        **common,
    )
    return [(p, text) for p in d.leaders]


# Many matters share a due minute and short texts repeat: formatting is a good part of a sweep.
_summary = lru_cache(maxsize=4096)(lambda text: short(text, 20))
_when = lru_cache(maxsize=4096)(texts.when)


# The name it had; scheduler/jobs.py still uses it (handlers/directory.py and bot/wechat.py had
# classes of the same name).
Directory = GridSnapshot
