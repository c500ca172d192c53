"""canned replies: a village's 常用回复 for 办结 and 进展

Revision ID: 0014_canned_replies
Revises: 0013_issue_group_stub
Create Date: 2026-12-06

A 书记 keeps the replies the village's cadres pick on the issue page instead of typing them on
a phone (issue 17).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_canned_replies"
down_revision: str | None = "0013_issue_group_stub"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cannedreply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["village_id"], ["village.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_cannedreply_village_purpose", "cannedreply", ["village_id", "purpose"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_cannedreply_village_purpose", table_name="cannedreply")
    op.drop_table("cannedreply")
