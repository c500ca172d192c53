"""grid teams: free titles, villagers' groups (组) and where villagers live

Revision ID: 0015_grid_teams
Revises: 0014_canned_replies
Create Date: 2026-12-06

A person keeps the title the grid file writes (`person.title`; `role` stays the duty the
product acts on) and, for a town mediator, the villages served; a village's 组 and their
people; the 组 a villager said they live in (issue 18).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_grid_teams"
down_revision: str | None = "0014_canned_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs: a batch rebuilds the table on SQLite and would drop the person
    # triggers of 0012.
    op.add_column("person", sa.Column("title", sa.String(), nullable=False, server_default=""))
    op.add_column("person", sa.Column("serves", sa.String(), nullable=False, server_default=""))
    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("aliases", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["village_id"], ["village.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("village_id", "name"),
    )
    op.create_index(op.f("ix_team_village_id"), "team", ["village_id"], unique=False)
    op.create_table(
        "teammember",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_teammember_team_id"), "teammember", ["team_id"], unique=False)
    op.create_table(
        "residence",
        sa.Column("sender", sa.String(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"]),
        sa.PrimaryKeyConstraint("sender"),
    )


def downgrade() -> None:
    op.drop_table("residence")
    op.drop_index(op.f("ix_teammember_team_id"), table_name="teammember")
    op.drop_table("teammember")
    op.drop_index(op.f("ix_team_village_id"), table_name="team")
    op.drop_table("team")
    op.drop_column("person", "serves")
    op.drop_column("person", "title")
