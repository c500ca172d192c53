"""Tables of the 说事码 (a village's QR poster, issue 19): each report sent from the phone page,
and the villages whose 说事码 the admin switched off (migration 0016)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class QrReport(SQLModel, table=True):
    """One report from the phone page. `token` names it in the tracking link and is its
    sender and chat on the "qrcode" platform, so the inbox row and the issue are found through
    it; the address and phone are kept for the abuse limits (counted per hour and per day)."""

    __table_args__ = (
        Index("ix_qrreport_address_at", "address", "created_at"),
        Index("ix_qrreport_phone_at", "phone", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(unique=True)
    village_id: int = Field(foreign_key="village.id", index=True)
    group_id: int | None = Field(default=None, foreign_key="chatgroup.id")
    team: str = ""  # the 组 chosen or typed
    name: str = ""
    phone: str = ""  # digits only; "" when none was given
    address: str  # admin.security.address_key of the sender: "addr:…"
    created_at: datetime = Field(index=True)


class QrVillage(SQLModel, table=True):
    """A village whose 说事码 was switched off (or on again) in the admin. No row: on."""

    village_id: int = Field(primary_key=True, foreign_key="village.id")
    enabled: bool = True
    changed_at: datetime
    changed_by: str = ""


__all__ = ["QrReport", "QrVillage"]
