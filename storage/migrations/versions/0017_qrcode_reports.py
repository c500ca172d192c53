"""qrcode reports: the 说事码's reports and the villages whose 说事码 is off

Revision ID: 0017_qrcode_reports
Revises: 0016_votes_visits
Create Date: 2026-12-06

A report from a village's QR poster (issue 19, part 1) is kept with the address and phone the
abuse limits count, and its token, which names its tracking page.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_qrcode_reports"
down_revision: str | None = "0016_votes_visits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qrreport",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("team", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("phone", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["village_id"], ["village.id"]),
        sa.ForeignKeyConstraint(["group_id"], ["chatgroup.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_qrreport_village_id", "qrreport", ["village_id"])
    op.create_index("ix_qrreport_created_at", "qrreport", ["created_at"])
    op.create_index("ix_qrreport_address_at", "qrreport", ["address", "created_at"])
    op.create_index("ix_qrreport_phone_at", "qrreport", ["phone", "created_at"])
    op.create_table(
        "qrvillage",
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["village_id"], ["village.id"]),
        sa.PrimaryKeyConstraint("village_id"),
    )


def downgrade() -> None:
    op.drop_table("qrvillage")
    op.drop_index("ix_qrreport_phone_at", table_name="qrreport")
    op.drop_index("ix_qrreport_address_at", table_name="qrreport")
    op.drop_index("ix_qrreport_created_at", table_name="qrreport")
    op.drop_index("ix_qrreport_village_id", table_name="qrreport")
    op.drop_table("qrreport")
