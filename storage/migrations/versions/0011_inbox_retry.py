"""inbox retry: a message whose handling failed is tried again with backoff, then set aside

Revision ID: 0011_inbox_retry
Revises: 0010
Create Date: 2026-12-06

Before, a failed message stayed "new" until the next start, where one bad message (a date out
of range) stopped every start-up. Now each failure is counted (`tries`), the next try is
scheduled (`retry_at`) and after a few the message is "failed": listed, not retried.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_inbox_retry"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound") as batch:
        batch.add_column(sa.Column("tries", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("error", sa.String(), nullable=True))
    op.create_index("ix_inbound_status_retry", "inbound", ["status", "retry_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_status_retry", table_name="inbound")
    with op.batch_alter_table("inbound") as batch:
        batch.drop_column("error")
        batch.drop_column("retry_at")
        batch.drop_column("tries")
