"""issue topic: what a matter is about, so duplicate detection reads only its own kind of matter

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

Issues registered before this revision have no topic (NULL); duplicate detection still
compares new posts with them, so nothing needs to be computed here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("issue", sa.Column("topic", sa.String(), nullable=True))
    op.create_index("ix_issue_topic", "issue", ["village_id", "kind", "topic", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_issue_topic", table_name="issue")
    op.drop_column("issue", "topic")
