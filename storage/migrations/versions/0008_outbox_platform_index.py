"""outbox: pending rows by platform, so a sender walks only its own platforms' rows

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

A sender claims the oldest due rows of the platforms it serves. With only (status,
not_before) indexed, it stepped over every pending row of other platforms (a door that is
down, a second instance's platform) on each claim; with the platform in the index it seeks
straight to its own. The chat comes last so that the rows of chats the sender is busy with,
which a claim leaves out, are passed over in the index without reading the table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_status_platform_due",
        "outbox",
        ["status", "platform", "not_before", "id", "chat"],
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_status_platform_due", table_name="outbox")
