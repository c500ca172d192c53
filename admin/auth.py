"""Who is asking: passwords (argon2), sessions (a row per log-in, its token in the signed
cookie), CSRF tokens, the log-in rate limits (counted in the database) and API tokens. Access
follows the grid: a 镇领导 sees the whole town, everyone else their own village."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session

from handlers.actions import Actor
from storage import admin_sessions, people, records
from storage.models import AdminLogin, ApiToken, Person, Role

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
        return Actor(
            key=self.key, name=self.name, person=records.by_id(session, Person, self.person_id)
        )


def viewer_of(session: Session, person: Person, via: str) -> Viewer:
    key = people.default_key(session=session, person_id=person.id)
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
    return people.people_named(session=session, name=name.strip(), village=village)


def check_password(session: Session, name: str, password: str) -> Person | None:
    """The active person of that name whose password this is (names repeat across villages)."""
    rows = admin_sessions.logins(session=session, name=name.strip())
    if not rows:
        verify_password(_DUMMY_HASH, password)
        return None
    for person, login in rows:
        if verify_password(login.password_hash, password):
            return person
    return None


SESSION_KEY = "sid"  # the session token's key in the signed cookie


def open_session(session: Session, person: Person, now: datetime, hours: float) -> str:
    """A new log-in of this person; the token the cookie keeps."""
    return admin_sessions.start(session, person.id or 0, now, hours)


def close_session(session: Session, data: dict[str, object]) -> None:
    """Log-out: the session's row goes, so a copy of the cookie opens nothing any more."""
    token = data.get(SESSION_KEY)
    if isinstance(token, str):
        admin_sessions.end(session, token)


def session_viewer(session: Session, data: dict[str, object], *, now: datetime) -> Viewer | None:
    """The viewer of a session cookie's data, if its session is still open on the server and its
    person still active with a password."""
    token = data.get(SESSION_KEY)
    if not isinstance(token, str):
        return None
    pid = admin_sessions.person_of(session, token, now)
    if pid is None:
        return None
    row = admin_sessions.login_person(session=session, person_id=pid)
    return viewer_of(session, row, "session") if row is not None else None


def set_password(session: Session, person: Person, password: str, now: datetime) -> None:
    login = records.by_id(session, AdminLogin, person.id) or AdminLogin(
        person_id=person.id or 0, password_hash="", set_at=now
    )
    login.password_hash = hash_password(password)
    login.set_at = now
    records.keep(session, login)
    admin_sessions.end_all(session, person.id or 0)  # every log-in with the old password ends


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(session: Session, person: Person, now: datetime, label: str = "") -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    records.keep(
        session,
        ApiToken(
            person_id=person.id or 0, token_hash=token_hash(token), label=label, created_at=now
        ),
    )
    return token


def token_viewer(session: Session, token: str, now: datetime) -> Viewer | None:
    row = admin_sessions.live_token(session=session, token_hash=token_hash(token.strip()))
    if row is None:
        return None
    api_token, person = row
    if api_token.last_used_at is None or now - api_token.last_used_at > timedelta(minutes=5):
        api_token.last_used_at = now
        records.keep(session, api_token)
        session.commit()
    return viewer_of(session, person, "token")


def csrf_ok(expected: object, given: object) -> bool:
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and bool(expected)
        and hmac.compare_digest(expected, given)
    )


def name_key(name: str) -> str:
    """What the per-name limit counts (a hash: people type passwords into the name field)."""
    return "name:" + hashlib.sha256(name.strip().encode("utf-8", "replace")).hexdigest()[:32]


@dataclass(frozen=True)
class LoginLimits:
    """Failed log-ins, counted in the database (every instance sees them).

    Per address: after `per_address` failures within `window`, that address waits until the
    oldest of them is `window` old, whatever it tries, even the right password.
    Per name: after `per_name` failures within `window` from anywhere, the name is under attack.
    The right password still gets in (strangers cannot lock the real person out), but a wrong
    one then makes its address wait at once, as if it had used up its limit."""

    per_address: int = 5
    per_name: int = 5
    window: timedelta = timedelta(minutes=1)

    def address_wait(self, session: Session, address: str, now: datetime) -> int:
        """Seconds this address must wait before it may try again (0: it may now)."""
        count, first = admin_sessions.failures(session, address, now - self.window)
        if count < self.per_address or first is None:
            return 0
        return max(1, int((first + self.window - now).total_seconds()) + 1)

    def under_attack(self, session: Session, name: str, now: datetime) -> bool:
        count, _ = admin_sessions.failures(session, name_key(name), now - self.window)
        return count >= self.per_name

    def failed(self, session: Session, name: str, address: str, now: datetime) -> None:
        """Count a failure of this name from this address (the caller commits)."""
        strikes = self.per_address if self.under_attack(session, name, now) else 1
        admin_sessions.failed(
            session, [name_key(name)] + [address] * strikes, now, keep=self.window * 2
        )
