"""Tables of the admin's log-ins (migration 0012): one row per open session, so a log-out, a
new password or a person leaving the grid ends it on the server, and the failed log-ins the
rate limits count, shared by every instance on the database. And a village's canned replies
(常用回复, migration 0014), offered on the issue page's 办结 and 进展 forms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class AdminSession(SQLModel, table=True):
    """A log-in. The browser's signed cookie carries a random token; only its SHA-256 is kept
    here. A person made inactive loses every row at once (a trigger, migration 0012)."""

    id: str = Field(primary_key=True)  # sha256 of the token in the cookie
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    created_at: datetime
    expires_at: datetime = Field(index=True)


class AdminLoginFailure(SQLModel, table=True):
    """One failed log-in, counted for its address and for the name tried (two rows): the
    limits read the last minutes' rows of one key."""

    __table_args__ = (Index("ix_adminloginfailure_key_at", "key", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str  # "addr:203.0.113.5", "addr:2001:db8:1:2::/64", "name:<sha256 of the name>"
    at: datetime = Field(index=True)


class CannedReply(SQLModel, table=True):
    """A reply a village keeps for its cadres to pick instead of typing it again on a phone
    (常用回复, e.g. "已联系施工队，三天内修好"); kept by the village's 书记 in the admin."""

    __table_args__ = (Index("ix_cannedreply_village_purpose", "village_id", "purpose"),)
    id: int | None = Field(default=None, primary_key=True)
    village_id: int = Field(foreign_key="village.id", ondelete="CASCADE")
    purpose: str  # "close" (办结的结果) or "note" (进展)
    text: str = Field(max_length=200)
    created_at: datetime


__all__ = ["AdminLoginFailure", "AdminSession", "CannedReply"]
