"""The statements of the admin's log-ins: sessions kept on the server and failed log-ins
counted in the database (tables in storage/admin_tables.py). Times are stored in UTC."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from storage.admin_tables import AdminLoginFailure, AdminSession
from storage.models import AdminLogin, ApiToken, Person

TOKEN_BYTES = 32


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def start(session: Session, person_id: int, now: datetime, hours: float) -> str:
    """A new session for the person; the token for the cookie (only its hash is stored).
    Expired sessions of anyone are cleared on the way."""
    now = now.astimezone(UTC)
    session.execute(delete(AdminSession).where(col(AdminSession.expires_at) <= now))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        AdminSession(
            id=_digest(token),
            person_id=person_id,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    return token


def person_of(session: Session, token: str, now: datetime) -> int | None:
    """The person of a session still open at `now`, if there is one."""
    if not token:
        return None
    row = session.get(AdminSession, _digest(token))
    if row is None or _aware(row.expires_at) <= now.astimezone(UTC):
        return None
    return row.person_id


def end(session: Session, token: str) -> None:
    """Log-out: this session stops working everywhere its cookie was copied."""
    if token:
        session.execute(delete(AdminSession).where(col(AdminSession.id) == _digest(token)))


def end_all(session: Session, person_id: int) -> int:
    """Every session of a person (a new password); how many there were."""
    result = session.execute(delete(AdminSession).where(col(AdminSession.person_id) == person_id))
    return int(getattr(result, "rowcount", 0) or 0)


def open_sessions(session: Session, person_id: int, now: datetime) -> int:
    query = select(func.count()).where(
        col(AdminSession.person_id) == person_id,
        col(AdminSession.expires_at) > now.astimezone(UTC),
    )
    return int(session.exec(query).one())


# --- who may log in ---------------------------------------------------------------------------


def logins(*, session: Session, name: str) -> list[tuple[Person, AdminLogin]]:
    """The active people of that name who have a password, with it (oldest person first)."""
    rows = session.exec(
        select(Person, AdminLogin)
        .join(AdminLogin, col(AdminLogin.person_id) == col(Person.id))
        .where(Person.name == name, Person.active)
        .order_by(col(Person.id))
    ).all()
    return [(person, login) for person, login in rows]


def login_person(*, session: Session, person_id: int) -> Person | None:
    """The person, if still active and with a password."""
    return session.exec(
        select(Person)
        .join(AdminLogin, col(AdminLogin.person_id) == col(Person.id))
        .where(Person.id == person_id, Person.active)
    ).first()


def live_token(*, session: Session, token_hash: str) -> tuple[ApiToken, Person] | None:
    """The unrevoked API token of that hash and its person, if still active."""
    row = session.exec(
        select(ApiToken, Person)
        .join(Person, col(Person.id) == col(ApiToken.person_id))
        .where(
            ApiToken.token_hash == token_hash,
            col(ApiToken.revoked_at).is_(None),
            Person.active,
        )
    ).first()
    if row is None:
        return None
    api_token, person = row
    return api_token, person


# --- failed log-ins ----------------------------------------------------------------------------


def failed(session: Session, keys: list[str], now: datetime, keep: timedelta) -> None:
    """Count one failure for each key; failures older than `keep` are forgotten."""
    now = now.astimezone(UTC)
    session.execute(delete(AdminLoginFailure).where(col(AdminLoginFailure.at) < now - keep))
    for key in keys:
        session.add(AdminLoginFailure(key=key, at=now))


def failures(session: Session, key: str, since: datetime) -> tuple[int, datetime | None]:
    """How many failures a key has had since then, and the first of them."""
    count, first = session.exec(
        select(func.count(), func.min(col(AdminLoginFailure.at))).where(
            col(AdminLoginFailure.key) == key, col(AdminLoginFailure.at) > since.astimezone(UTC)
        )
    ).one()
    return int(count), _aware(first) if first is not None else None


def _aware(value: datetime) -> datetime:
    """SQLite hands stored times back without an offset: they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


__all__ = [
    "end",
    "end_all",
    "failed",
    "failures",
    "live_token",
    "login_person",
    "logins",
    "open_sessions",
    "person_of",
    "start",
]
