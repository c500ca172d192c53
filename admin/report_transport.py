"""The way out of the 说事码 platform, apart from its pages (admin/report.py) so that the root
registers it at every start without loading the web stack (FastAPI, the poster's QR library)."""

from __future__ import annotations

from handlers.reports import PLATFORM
from storage.models import Outbox


class ReportTransport:
    """The person has no chat to receive in (the tracking page shows the issue's state
    instead), so a row is delivered by being marked sent. The owner is told on their own
    platforms as for any matter."""

    platform = PLATFORM

    async def send(self, row: Outbox) -> str:
        return f"q{row.id}"
