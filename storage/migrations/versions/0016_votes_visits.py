"""votes and visits: 议事 (a group's vote on a 村里事) and 回访 (the owner's visit after closing)

Revision ID: 0016_votes_visits
Revises: 0015_grid_teams
Create Date: 2026-12-06

Issue 19, parts 2 and 3.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_votes_visits"
down_revision: str | None = "0015_grid_teams"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("choices", sa.String(), nullable=False),
        sa.Column("opened_by", sa.String(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["issue_id"], ["issue.id"]),
        sa.ForeignKeyConstraint(["group_id"], ["chatgroup.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_vote_issue_id", "vote", ["issue_id"], unique=False)
    op.create_index("ix_vote_open", "vote", ["closed_at", "closes_at"], unique=False)
    op.create_table(
        "ballot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("voter", sa.String(), nullable=False),
        sa.Column("voter_name", sa.String(), nullable=False),
        sa.Column("choice", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["vote_id"], ["vote.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vote_id", "voter"),
    )
    op.create_table(
        "votepoll",
        sa.Column("poll_id", sa.String(), nullable=False),
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("chat", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["vote_id"], ["vote.id"]),
        sa.PrimaryKeyConstraint("poll_id"),
    )
    op.create_index("ix_votepoll_vote_id", "votepoll", ["vote_id"], unique=False)
    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("source_event", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["issue_id"], ["issue.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_event"),
    )
    op.create_index("ix_visit_issue_id", "visit", ["issue_id"], unique=False)
    op.create_index("ix_visit_pending", "visit", ["done_at", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_visit_pending", table_name="visit")
    op.drop_index("ix_visit_issue_id", table_name="visit")
    op.drop_table("visit")
    op.drop_index("ix_votepoll_vote_id", table_name="votepoll")
    op.drop_table("votepoll")
    op.drop_table("ballot")
    op.drop_index("ix_vote_open", table_name="vote")
    op.drop_index("ix_vote_issue_id", table_name="vote")
    op.drop_table("vote")
