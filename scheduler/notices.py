"""From what the scheduler owes (held Reminder rows) to outbox messages: one per person.

Quiet hours: nothing the scheduler writes (categories reminder, overdue, escalation, todo,
digest) goes out inside them; held rows wait and the first sweep after the quiet hours end
merges each person's rows into ONE message. Replies and notices (answers to a person's own post
or command, news of their matter) are written by the handlers straight to the outbox and never
wait. Outside quiet hours the same merge applies to whatever one sweep finds for a person.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlmodel import Session

from handlers import texts, triage
from handlers.actions import owner_buttons
from handlers.outbox import split_key
from storage import issues, outbox, people, schedule
from storage.models import Issue, Person

log = logging.getLogger(__name__)

# The outbox category of a stage; a merged message takes the most pressing one.
CATEGORY = {
    "escalation": "escalation",
    "overdue": "overdue",
    "unclaimed": "reminder",
    "reminder": "reminder",
    "todo": "todo",
    "digest": "digest",
    "town_digest": "digest",
    "triage": "triage",
}
PRESSING = ("escalation", "overdue", "triage", "reminder", "todo", "digest")
HELD_CATEGORIES = frozenset(PRESSING)  # what waits out the quiet hours
OWNER_BUTTON_STAGES = ("unclaimed", "reminder", "overdue")
HELD_LIMIT = 50_000  # held rows merged per transaction; more wait for the next sweep


def settle(session: Session, *, now: datetime, owed: list[dict[str, Any]], quiet: bool) -> int:
    """Write what a sweep found owed: inside the quiet hours as held rows; outside them, merged
    with whatever is held, as one outbox message per person. The number of messages queued.

    A few statements whatever the number of people: held rows, people, accounts and matters
    are read in one go each, the messages inserted in one batch, the rows in another."""
    if quiet:
        schedule.owe_many(session=session, rows=owed)
        return 0
    held = schedule.held(session=session, limit=HELD_LIMIT)
    # A person's triage cards wait a few minutes for company (one message, not one per post):
    # they go once the oldest is GATHER old (so none waits longer), or with anything else that
    # goes to that person now.
    oldest: dict[int, dict[str, Any]] = {}
    for r in held:
        if r["stage"] == triage.STAGE:
            oldest.setdefault(r["person_id"], r)  # rows come in id order: the first is oldest
    gathering = {person for person, r in oldest.items() if _young(r, now)}
    going = {r["person_id"] for r in held if r["stage"] != triage.STAGE} | {
        r["person_id"] for r in owed if r["status"] == "held"
    }
    held = [r for r in held if r["person_id"] not in gathering or r["person_id"] in going]
    by_person: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in [*held, *(r for r in owed if r["status"] == "held")]:
        by_person[row["person_id"]].append(row)
    persons = people.people_by_ids(session=session, ids=list(by_person))
    all_accounts = people.accounts(session=session, person_ids=list(by_person))
    # The first account, as to_person picks it; a triage card goes where its post was said
    # (a WeChat post's card on WeChat, where the cadre can answer it).
    accounts = {
        person_id: _account(keys, by_person[person_id]) for person_id, keys in all_accounts.items()
    }
    single = {rows[0]["issue_id"] for rows in by_person.values() if _one_issue(rows)}
    matters = issues.issues_by_ids(session=session, ids=list(single))
    sendable: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []
    for person_id, rows in by_person.items():
        rows.sort(key=lambda r: r["due_at"])  # in the order they fell due
        person, key = persons.get(person_id), accounts.get(person_id)
        if person is None or key is None:
            log.warning("nobody to send %d scheduler messages to (person %s)", len(rows), person_id)
            for r in rows:
                r["status"], r["outbox_id"] = "skipped", None
        else:
            sendable.append((rows, _message(person, key, rows, matters, now)))
    if sendable:
        ids = outbox.queue_many(session=session, rows=[message for _, message in sendable])
        for (rows, _), outbox_id in zip(sendable, ids, strict=True):
            for r in rows:
                r["status"], r["outbox_id"] = "queued", outbox_id
    schedule.owe_many(session=session, rows=owed)
    schedule.mark_owed(session=session, rows=held)
    return len(sendable)


def _account(keys: list[str], rows: list[dict[str, Any]]) -> str:
    wanted = {triage.platform_of(r.get("key", "")) for r in rows if r["stage"] == triage.STAGE}
    return next((k for k in keys if split_key(k)[0] in wanted), keys[0])


def _young(row: dict[str, Any], now: datetime) -> bool:
    created = row["created_at"]
    if created.tzinfo is None:  # SQLite gives naive datetimes back
        created = created.replace(tzinfo=now.tzinfo)
    return bool(now - created < triage.GATHER)


def _one_issue(rows: list[dict[str, Any]]) -> bool:
    return len({r["issue_id"] for r in rows}) == 1 and rows[0]["issue_id"] is not None


def _message(
    person: Person,
    key: str,
    rows: list[dict[str, Any]],
    matters: dict[Any, Issue],
    now: datetime,
) -> dict[str, Any]:
    """The outbox row for one person (storage.outbox.message_row, as handlers.outbox.enqueue
    writes a private message), so that all of a sweep's messages are inserted in one
    statement."""
    if len(rows) == 1:
        text = rows[0]["text"]
    else:
        items = [texts.MERGED_ITEM.format(i=i, text=r["text"]) for i, r in enumerate(rows, 1)]
        text = "\n".join([texts.MERGED_HEADER.format(count=len(rows)), *items])
    categories = {CATEGORY.get(r["stage"], "reminder") for r in rows}
    # One matter: the message belongs to it, so a reply to it finds the matter, and its owner
    # gets the buttons to act at once.
    issue = matters.get(rows[0]["issue_id"]) if _one_issue(rows) else None
    buttons: list[tuple[str, str]] = []
    owner = issue is not None and issue.owner_id == person.id
    if issue is not None and owner and all(r["stage"] in OWNER_BUTTON_STAGES for r in rows):
        buttons = owner_buttons(issue)
        if issue.status != "open":
            buttons = buttons[1:]  # claimed already: only 办结
    cards = [triage.post_id_of(r.get("key", "")) for r in rows if r["stage"] == triage.STAGE]
    if cards:
        buttons += triage.buttons_for([c for c in cards if c is not None])
    platform, chat = split_key(key)
    return outbox.message_row(
        platform=platform,
        chat=chat,
        private=True,
        recipient=person.name,
        text=text,  # each part was masked where it was written (short(), digests)
        buttons=buttons,
        issue_id=issue.id if issue is not None else None,
        category=next(c for c in PRESSING if c in categories),
        now=now,
        # The transport decides whether its platform can show the chart.
        image=next((r["image"] for r in rows if r["image"]), None),
    )
