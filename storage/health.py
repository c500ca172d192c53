"""What the health checks read: whether the database answers, and what the outbox owes and how
late the scheduler is (ops.metrics at each scrape, ops.doctor, admin.readiness at /readyz).
Whole-database figures, no personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, text
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col

from storage.models import Outbox


def ping(*, session: Session) -> None:
    """Ask the database something trivial ("SELECT 1"); raises when it does not answer."""
    session.execute(text("SELECT 1"))


def outbox_by_platform(*, session: Session) -> list[Row[str, str, int, int]]:
    """(platform, status, count, retries) per platform and status of the outbox: `retries` are
    the failed tries that were or will be tried again (a finished row's last try was not
    failed-and-retried; a waiting row's every try was)."""
    finished = col(Outbox.status).in_(("sent", "failed"))
    retries = case((finished, col(Outbox.tries) - 1), else_=col(Outbox.tries))
    return list(
        session.execute(
            select(
                col(Outbox.platform),
                col(Outbox.status),
                func.count(),
                func.coalesce(func.sum(case((col(Outbox.tries) > 0, retries), else_=0)), 0),
            ).group_by(col(Outbox.platform), col(Outbox.status))
        ).all()
    )


def oldest_due(*, session: Session, now: datetime) -> datetime | None:
    """When the oldest pending outbox row that is due by `now` fell due (None: none is)."""
    return session.execute(
        select(func.min(Outbox.not_before)).where(
            col(Outbox.status) == "pending", col(Outbox.not_before) <= now
        )
    ).scalar()


def _next_check_column() -> Any:
    """When the scheduler looks at an issue next: its own narrow table (issuecheck), or the
    issue's column in schemas before it."""
    checks = SQLModel.metadata.tables.get("issuecheck")
    if checks is not None:
        return checks.c.next_check_at
    return SQLModel.metadata.tables["issue"].c.next_check_at


def next_check(*, session: Session) -> datetime | None:
    """The earliest time the scheduler is to look at an issue again (None: no check waits)."""
    return session.execute(select(func.min(_next_check_column()))).scalar()


def failed_count(*, conn: Connection) -> int:
    """Outbox rows that failed and are no longer tried."""
    return int(
        conn.execute(
            select(func.count()).select_from(Outbox).where(col(Outbox.status) == "failed")
        ).scalar_one()
    )


__all__ = ["failed_count", "next_check", "oldest_due", "outbox_by_platform", "ping"]
