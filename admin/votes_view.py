"""What the issue page shows of 议事 and 回访: the issue's votes with their results, its
visits, and its village's 回访 count (admin/templates/issue_votes.html)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session

from handlers import texts, visits, votes
from storage import visits as visit_rows
from storage import votes as vote_rows
from storage.models import ACTIVE_STATUSES, Issue, Kind


def issue_extras(session: Session, issue: Issue, *, now: datetime, tz: Any) -> dict[str, Any]:
    """What the issue page shows of 议事 and 回访."""
    shown_votes = []
    for vote in vote_rows.votes_of_issue(session=session, issue_id=issue.id or 0):
        result = json.loads(vote.result) if vote.result else None
        items = ""
        if result is not None:
            items, turnout = votes.result_lines(vote, result)
            items += texts.VOTE_EVENT_RESULT.format(
                items="", voters=result["voters"], turnout=turnout
            ).removeprefix("；")
        shown_votes.append(
            {
                "question": vote.question,
                "choices": "/".join(vote_rows.choices_of(vote)),
                "closes": texts.when(vote.closes_at, tz),
                "result": items,
            }
        )
    return {
        "votes": shown_votes,
        "can_vote": issue.kind == Kind.VILLAGE and issue.status in ACTIVE_STATUSES,
        "visits": visit_rows.of_issue(session=session, issue_id=issue.id or 0),
        "can_visit": issue.kind in visits.VISIT_KINDS,
        "visit_counts": visit_rows.counts(session=session, now=now, village_id=issue.village_id),
    }
