"""议事 and 回访 from the issue page: the 书记's form to start a vote (the 议事 command's code
path, handlers.votes.start) and the 回访 form (handlers.visits.record). What the page shows of
both is admin/votes_view.py."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from admin.pages import IssueNumber, _act
from admin.web import Csrf, PageViewer, SessionDep
from handlers import visits, votes
from handlers.actions import Actor, Ctx, Outcome
from storage.models import Issue

router = APIRouter(include_in_schema=False)
# The form's choices as a 书记 may type them: "同意/不同意", "出工 出钱", "出工，出钱、都行".
_CHOICE_BREAKS = re.compile(r"[/／|｜、，,\s]+")


@router.post("/issues/{number}/vote", dependencies=[Csrf])
def issue_vote(
    number: IssueNumber,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    question: Annotated[str, Form(max_length=200)] = "",
    choices: Annotated[str, Form(max_length=200)] = "",
    span: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    # Written as the chat command is, so both read it the same way (handlers.votes).
    args = " ".join(
        part
        for part in (
            " ".join(question.split()),
            "/".join(c for c in _CHOICE_BREAKS.split(choices) if c),
            span.strip(),
        )
        if part
    )

    def change(ctx: Ctx, issue: Issue, actor: Actor) -> Outcome:
        return votes.start(ctx, issue, actor, args)

    return _act(request, session, viewer, number, change)


@router.post("/issues/{number}/visit", dependencies=[Csrf])
def issue_visit(
    number: IssueNumber,
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    def change(ctx: Ctx, issue: Issue, actor: Actor) -> Outcome:
        return visits.record(ctx, issue, actor, note)

    return _act(request, session, viewer, number, change)
