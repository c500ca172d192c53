"""scheduler: what is due (issuecheck), what was owed and sent (reminder), periodic job claims
(jobrun), a chart path on outbox rows (outbox.image)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobrun",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job", "period"),
    )
    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("image", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_issue_id"), ["issue_id"], unique=False)
        batch_op.create_index(
            "ix_reminder_held",
            ["person_id"],
            unique=False,
            sqlite_where=sa.text("status = 'held'"),
            postgresql_where=sa.text("status = 'held'"),
        )

    op.create_table(
        "issuecheck",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["issue_id"], ["issue.id"]),
        sa.PrimaryKeyConstraint("issue_id"),
    )
    with op.batch_alter_table("issuecheck", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_issuecheck_next_check_at"), ["next_check_at"], unique=False
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image", sa.String(), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        # Room in each page for a new version of a row: the sweep's level changes touch no
        # indexed column, so PostgreSQL can then update in place (HOT) instead of adding an
        # entry to each of the issue table's many indexes.
        op.execute("ALTER TABLE issue SET (fillfactor = 90)")

    # Issues open before this revision have to be looked at once by the first sweep.
    op.execute(
        "INSERT INTO issuecheck (issue_id, next_check_at) "
        "SELECT id, clock_start FROM issue WHERE status IN ('open', 'claimed')"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE issue RESET (fillfactor)")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("image")

    with op.batch_alter_table("issuecheck", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issuecheck_next_check_at"))
    op.drop_table("issuecheck")

    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_held")
        batch_op.drop_index(batch_op.f("ix_reminder_issue_id"))

    op.drop_table("reminder")
    op.drop_table("jobrun")
