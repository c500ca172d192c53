"""Buttons under the bot's messages: which of them can still do something once their issue has
moved on, and the state line to show with them. A door renders this its own way (Telegram edits
the pressed message: the line below its text, only the buttons still live); the press itself is
decided by intake like any message.

Button data: `claim:N`, `close:N`, `rate:N:1|2|3` (handlers.outbox builds them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session

from handlers import commands
from handlers.actions import Ctx
from handlers.deps import Deps
from storage.issues import get_issue
from storage.models import ACTIVE_STATUSES, Issue, Status


@dataclass(frozen=True)
class ButtonState:
    line: str  # the issue's status line (as /status says it, without the issue's text)
    live: frozenset[str]  # the button data, of those asked about, that can still do something


def still_applies(issue: Issue, data: str) -> bool:
    """Whether a button with this data can still do something to its issue (an unknown
    action: yes, it is not ours to hide)."""
    possible = {
        "claim": issue.status == Status.OPEN,
        "close": issue.status in ACTIVE_STATUSES,
        "rate": issue.status == Status.CLOSED and issue.rating is None,
    }
    return possible.get(data.partition(":")[0], True)


def button_state(
    engine: Engine, deps: Deps, *, number: int, datas: Iterable[str], platform: str
) -> ButtonState | None:
    """Issue #number's state line, and which of these buttons can still do something; None
    when there is no such issue."""
    with Session(engine) as session:
        issue = get_issue(session=session, number=number)
        if issue is None:
            return None
        ctx = Ctx(session, deps, deps.clock.now(), platform=platform)
        line = commands.status(ctx, issue, show_text=False).text
        return ButtonState(line, frozenset(d for d in datas if still_applies(issue, d)))
