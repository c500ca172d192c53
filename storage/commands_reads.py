"""What the chat commands read (handlers/commands.py) beyond one issue by its number
(storage.issues.get_issue): who was seen where, a person's and a village's open issues, bind
codes and bound ids."""

from __future__ import annotations

from sqlmodel import Session, col, select

from storage.models import ACTIVE_STATUSES, BindCode, ChatGroup, Issue, Kind, PersonId, Seen


def seen_in_village(*, session: Session, key: str, village_id: int) -> bool:
    """Whether this sender was last seen in one of the village's groups."""
    seen = session.get(Seen, key)
    if seen is None:
        return False
    chat_group = session.get(ChatGroup, seen.group_id)
    return chat_group is not None and chat_group.village_id == village_id


def open_issues_of_owner(*, session: Session, person_id: int | None) -> list[Issue]:
    """The person's issues still in hand, the earliest due first (/mine of the grid)."""
    return list(
        session.exec(
            select(Issue)
            .where(Issue.owner_id == person_id, col(Issue.status).in_(ACTIVE_STATUSES))
            .order_by(col(Issue.due_at))
        ).all()
    )


def issues_reported_by(*, session: Session, key: str) -> list[Issue]:
    """Everything this sender reported, the newest first (/mine of a villager)."""
    return list(
        session.exec(
            select(Issue).where(Issue.reporter == key).order_by(col(Issue.number).desc())
        ).all()
    )


def open_village_matters(
    *, session: Session, group_id: int | None = None, village_id: int | None = None
) -> list[Issue]:
    """The open 村里事 of one group, of one village, or (neither given) of the whole town, the
    earliest due first (/list)."""
    query = select(Issue).where(Issue.kind == Kind.VILLAGE, col(Issue.status).in_(ACTIVE_STATUSES))
    if group_id is not None:
        query = query.where(Issue.group_id == group_id)
    if village_id is not None:
        query = query.where(Issue.village_id == village_id)
    return list(session.exec(query.order_by(col(Issue.due_at))).all())


def bind_code(*, session: Session, code: str) -> BindCode | None:
    return session.exec(select(BindCode).where(BindCode.code == code)).first()


def bound_id(*, session: Session, key: str) -> PersonId | None:
    """Who this sender's id ("platform:user id") is bound to, if anyone."""
    return session.exec(select(PersonId).where(PersonId.key == key)).first()
