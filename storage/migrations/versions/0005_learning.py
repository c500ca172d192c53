"""learning: labeled examples from the deployment's corrections

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "labeledexample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["village_id"], ["village.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("labeledexample", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_labeledexample_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("labeledexample", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_labeledexample_created_at"))
    op.drop_table("labeledexample")
