"""issue group stub: a 村里事 whose text the group does not see (the kind was unsure)

Revision ID: 0013_issue_group_stub
Revises: 0012_admin_sessions
Create Date: 2026-12-06

When the bot chose 村里事 but a household's or a dispute's matter was also likely, the group
sees only the stub until the owner confirms the kind (issue 15, part 5).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_issue_group_stub"
down_revision: str | None = "0012_admin_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (not a batch, which rebuilds the table on SQLite and would drop the
    # issue-tally triggers of 0004).
    op.add_column(
        "issue", sa.Column("group_stub", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("issue") as batch:
        batch.drop_column("group_stub")
