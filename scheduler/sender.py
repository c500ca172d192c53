"""The outbox sender: delivers pending rows through each platform's transport, marks them sent.

A row is only ever sent by the one sender that claimed it; a failure leaves it pending for a
later try (with backoff) until the configured number of tries is spent.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from handlers.clock import Clock
from storage.models import Outbox

log = logging.getLogger(__name__)


class TransientError(Exception):
    """The platform asked us to try later (HTTP 429/5xx, a timeout)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Transport(Protocol):
    platform: str

    async def send(self, row: Outbox) -> str:
        """Deliver one message; return the platform's message id."""
        ...


class Sender:
    def __init__(
        self, engine: Engine, clock: Clock, transports: dict[str, Transport], max_tries: int = 8
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.transports = transports
        self.max_tries = max_tries

    def due_rows(self, limit: int = 200) -> list[Outbox]:
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(Outbox)
                    .where(
                        Outbox.status == "pending",
                        col(Outbox.platform).in_(list(self.transports)),
                        Outbox.not_before <= self.clock.now(),
                    )
                    .order_by(col(Outbox.not_before), col(Outbox.id))
                    .limit(limit)
                ).all()
            )

    async def flush(self) -> int:
        """Send everything due now; the number sent."""
        sent = 0
        while True:
            rows = self.due_rows()
            if not rows:
                return sent
            progressed = False
            for row in rows:
                if await self.send_one(row):
                    sent += 1
                    progressed = True
            if not progressed:
                return sent

    async def send_one(self, row: Outbox) -> bool:
        transport = self.transports[row.platform]
        try:
            message_id = await transport.send(row)
        except Exception as exc:  # any failure: try again later, never lose the row
            self._failed(row, exc)
            return False
        with Session(self.engine) as session:
            db_row = session.get(Outbox, row.id)
            if db_row is None:
                return False
            db_row.status = "sent"
            db_row.sent_at = self.clock.now()
            db_row.tries += 1
            db_row.platform_message_id = message_id
            session.add(db_row)
            session.commit()
        return True

    def _failed(self, row: Outbox, exc: Exception) -> None:
        log.warning("send failed for outbox %s: %s", row.id, exc)
        with Session(self.engine) as session:
            db_row = session.get(Outbox, row.id)
            if db_row is None:
                return
            db_row.tries += 1
            db_row.last_error = str(exc)[:500]
            wait = getattr(exc, "retry_after", None) or min(300, 2**db_row.tries)
            db_row.not_before = self.clock.now() + timedelta(seconds=wait)
            if db_row.tries >= self.max_tries:
                db_row.status = "failed"
            session.add(db_row)
            session.commit()
