"""Who is asking: passwords (argon2), the session cookie, CSRF tokens, the log-in rate limit
and API tokens. Access follows the grid: a 镇领导 sees the whole town, everyone else their
own village."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from handlers.actions import Actor
from storage.models import AdminLogin, ApiToken, Person, PersonId, Role, Village

_hasher = PasswordHasher()
# Compared against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")
MIN_PASSWORD = 8
TOKEN_PREFIX = "ss_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def fingerprint(password_hash: str) -> str:
    """Stored in the session: a new password ends the sessions opened with the old one."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def load_secret(configured: str, data_dir: Path) -> str:
    """The configured secret, or one generated once into the data folder (mode 600)."""
    if configured:
        return configured
    path = data_dir / "secret_admin"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(value, encoding="utf-8")
    return value


@dataclass(frozen=True)
class Viewer:
    """A logged-in person (or a program holding their token) and what they may see."""

    person_id: int
    name: str
    role: str
    village_id: int | None
    key: str  # the person's platform identity, when they have one
    via: str  # "session" or "token"

    @property
    def villages(self) -> tuple[int, ...] | None:
        """The villages this viewer sees; None: the whole town."""
        if self.role == Role.TOWN_LEADER:
            return None
        return (self.village_id,) if self.village_id is not None else ()

    @property
    def is_town(self) -> bool:
        return self.role == Role.TOWN_LEADER

    def sees(self, village_id: int | None) -> bool:
        return self.villages is None or village_id in self.villages

    def actor(self, session: Session) -> Actor:
        """The same Actor the chat builds for this person, fresh from this session."""
        return Actor(key=self.key, name=self.name, person=session.get(Person, self.person_id))


def viewer_of(session: Session, person: Person, via: str) -> Viewer:
    key = session.exec(
        select(PersonId.key).where(PersonId.person_id == person.id).order_by(col(PersonId.id))
    ).first()
    return Viewer(
        person_id=person.id or 0,
        name=person.name,
        role=person.role,
        village_id=person.village_id,
        key=key or f"admin:{person.name}",
        via=via,
    )


def people_named(session: Session, name: str, village: str | None = None) -> list[Person]:
    """Active grid people of that name (in that village, when given)."""
    query = select(Person).where(Person.name == name.strip(), Person.active)
    if village:
        query = query.join(Village, col(Village.id) == col(Person.village_id)).where(
            Village.name == village
        )
    return list(session.exec(query))


def check_password(session: Session, name: str, password: str) -> Person | None:
    """The active person of that name whose password this is (names repeat across villages)."""
    rows = session.exec(
        select(Person, AdminLogin)
        .join(AdminLogin, col(AdminLogin.person_id) == col(Person.id))
        .where(Person.name == name.strip(), Person.active)
        .order_by(col(Person.id))
    ).all()
    if not rows:
        verify_password(_DUMMY_HASH, password)
        return None
    for person, login in rows:
        if verify_password(login.password_hash, password):
            return person
    return None


def session_viewer(
    session: Session, data: dict[str, object], *, now: datetime, hours: int
) -> Viewer | None:
    """The viewer of a session cookie's data, if it is still good."""
    pid, stamp, at = data.get("pid"), data.get("pw"), data.get("at")
    if not isinstance(pid, int) or not isinstance(stamp, str) or not isinstance(at, (int, float)):
        return None
    if now.timestamp() - at > hours * 3600:
        return None
    row = session.exec(
        select(Person, AdminLogin)
        .join(AdminLogin, col(AdminLogin.person_id) == col(Person.id))
        .where(Person.id == pid, Person.active)
    ).first()
    if row is None or not hmac.compare_digest(fingerprint(row[1].password_hash), stamp):
        return None
    return viewer_of(session, row[0], "session")


def set_password(session: Session, person: Person, password: str, now: datetime) -> None:
    login = session.get(AdminLogin, person.id) or AdminLogin(
        person_id=person.id or 0, password_hash="", set_at=now
    )
    login.password_hash = hash_password(password)
    login.set_at = now
    session.add(login)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(session: Session, person: Person, now: datetime, label: str = "") -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            person_id=person.id or 0, token_hash=token_hash(token), label=label, created_at=now
        )
    )
    return token


def token_viewer(session: Session, token: str, now: datetime) -> Viewer | None:
    row = session.exec(
        select(ApiToken, Person)
        .join(Person, col(Person.id) == col(ApiToken.person_id))
        .where(
            ApiToken.token_hash == token_hash(token.strip()),
            col(ApiToken.revoked_at).is_(None),
            Person.active,
        )
    ).first()
    if row is None:
        return None
    api_token, person = row
    if api_token.last_used_at is None or now - api_token.last_used_at > timedelta(minutes=5):
        api_token.last_used_at = now
        session.add(api_token)
        session.commit()
    return viewer_of(session, person, "token")


def csrf_ok(expected: object, given: object) -> bool:
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and bool(expected)
        and hmac.compare_digest(expected, given)
    )


class LoginLimiter:
    """At most `limit` failed log-ins per `window` for one name and for one address; the
    failures are kept in memory (one process serves the admin)."""

    def __init__(self, limit: int = 5, window: timedelta = timedelta(minutes=1)) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[datetime]] = {}

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        q = self._failures.setdefault(key, deque())
        while q and now - q[0] >= self.window:
            q.popleft()
        if not q:
            del self._failures[key]
            return deque()
        return q

    def blocked(self, name: str, address: str, now: datetime) -> bool:
        keys = (f"name:{name.strip()}", f"addr:{address}")
        return any(len(self._recent(k, now)) >= self.limit for k in keys)

    def failed(self, name: str, address: str, now: datetime) -> None:
        if len(self._failures) > 10_000:  # many names or addresses: forget the expired ones
            for key in list(self._failures):
                self._recent(key, now)
        for key in (f"name:{name.strip()}", f"addr:{address}"):
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)

    def wait_seconds(self, name: str, address: str, now: datetime) -> int:
        waits = [
            (q[0] + self.window - now).total_seconds()
            for k in (f"name:{name.strip()}", f"addr:{address}")
            if len(q := self._recent(k, now)) >= self.limit
        ]
        return max(1, int(max(waits, default=0)) + 1)
