"""issue groups: the 组 a matter names, so a post about another 组 is not compared with it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

Issues registered before this revision have none stored (NULL) and are compared with every
post of their topic, as before; nothing needs to be computed here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("issue", sa.Column("groups", sa.String(), nullable=True))
    # Status and groups in the index: the matters a post cannot be are passed over there,
    # without reading their rows.
    op.drop_index("ix_issue_topic", table_name="issue")
    op.create_index(
        "ix_issue_topic", "issue", ["village_id", "kind", "topic", "status", "created_at", "groups"]
    )


def downgrade() -> None:
    op.drop_index("ix_issue_topic", table_name="issue")
    op.create_index("ix_issue_topic", "issue", ["village_id", "kind", "topic", "created_at"])
    op.drop_column("issue", "groups")
