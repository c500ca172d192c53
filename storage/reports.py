"""What the 说事码 reads and writes (issue 19): reports from the phone page, the counts the
abuse limits read, a village's switch, its 组 and groups as the page offers them, and the inbox
row and issue a report became."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from storage.models import ChatGroup, Inbound, Issue, Team
from storage.report_tables import QrReport, QrVillage

REPORT_MESSAGE = "report"  # the inbox message id of a report (its chat is the report's token)


def add_report(*, session: Session, values: dict[str, Any]) -> QrReport:
    report = QrReport(**values)
    session.add(report)
    session.flush()
    return report


def report_by_token(*, session: Session, token: str) -> QrReport | None:
    return session.exec(select(QrReport).where(QrReport.token == token)).first()


def reports_since(
    *, session: Session, since: datetime, address: str | None = None, phone: str | None = None
) -> int:
    """How many reports came from this address (or with this phone) since then."""
    query = select(func.count()).select_from(QrReport).where(col(QrReport.created_at) >= since)
    if address is not None:
        query = query.where(QrReport.address == address)
    if phone is not None:
        query = query.where(QrReport.phone == phone)
    return int(session.exec(query).one())


def village_enabled(*, session: Session, village_id: int) -> bool:
    row = session.get(QrVillage, village_id)
    return row is None or row.enabled


def set_village_enabled(
    *, session: Session, village_id: int, enabled: bool, at: datetime, by: str
) -> None:
    row = session.get(QrVillage, village_id)
    if row is None:
        row = QrVillage(village_id=village_id, changed_at=at)
    row.enabled, row.changed_at, row.changed_by = enabled, at, by
    session.add(row)


def switched_off(*, session: Session) -> set[int]:
    """The villages whose 说事码 is off."""
    rows = session.exec(select(QrVillage.village_id).where(col(QrVillage.enabled).is_(False)))
    return set(rows.all())


def team_names(*, session: Session, village_id: int) -> list[str]:
    """The village's 组 in grid order; [] when the grid lists none: the page then asks for the
    组 as free text."""
    rows = session.exec(
        select(Team.name)
        .where(Team.village_id == village_id, col(Team.active))
        .order_by(col(Team.position))
    )
    return list(rows.all())


def group_named(*, session: Session, village_id: int, name: str) -> ChatGroup | None:
    """An active group of the village by its name (a poster made with --group)."""
    return session.exec(
        select(ChatGroup).where(
            ChatGroup.village_id == village_id, ChatGroup.name == name, col(ChatGroup.active)
        )
    ).first()


def report_post(*, session: Session, platform: str, token: str) -> Inbound | None:
    """The inbox row of the report itself (not of a rating pressed later)."""
    return session.exec(
        select(Inbound).where(
            Inbound.platform == platform,
            Inbound.chat == token,
            Inbound.message_id == REPORT_MESSAGE,
        )
    ).first()


def issue_by_id(*, session: Session, issue_id: int) -> Issue | None:
    return session.get(Issue, issue_id)


__all__ = [
    "REPORT_MESSAGE",
    "add_report",
    "group_named",
    "issue_by_id",
    "report_by_token",
    "report_post",
    "reports_since",
    "set_village_enabled",
    "switched_off",
    "team_names",
    "village_enabled",
]
