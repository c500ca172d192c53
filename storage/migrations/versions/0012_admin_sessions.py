"""admin sessions kept on the server, failed log-ins counted in the database

Revision ID: 0012_admin_sessions
Revises: 0011_inbox_retry
Create Date: 2026-12-08

A log-in is a row (the cookie carries a random token, the row its SHA-256): logging out, a new
password and leaving the grid delete it, so a copied cookie stops working. A trigger ends the
sessions of a person made inactive, whoever makes them so (the grid sync, by hand).

Failed log-ins are rows too, one per address and one per name, so the limits hold across
instances and restarts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_admin_sessions"
down_revision: str | None = "0011_inbox_retry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_END_SESSIONS = """
CREATE OR REPLACE FUNCTION adminsession_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM adminsession WHERE person_id = NEW.id;
  RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "adminsession",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("adminsession", schema=None) as batch_op:
        batch_op.create_index("ix_adminsession_person_id", ["person_id"], unique=False)
        batch_op.create_index("ix_adminsession_expires_at", ["expires_at"], unique=False)
    op.create_table(
        "adminloginfailure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("adminloginfailure", schema=None) as batch_op:
        batch_op.create_index("ix_adminloginfailure_key_at", ["key", "at"], unique=False)
        batch_op.create_index("ix_adminloginfailure_at", ["at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_END_SESSIONS)
        op.execute(
            "CREATE TRIGGER adminsession_person_inactive AFTER UPDATE OF active ON person "
            "FOR EACH ROW WHEN (OLD.active AND NOT NEW.active) EXECUTE FUNCTION adminsession_end()"
        )
    else:
        op.execute(
            "CREATE TRIGGER adminsession_person_inactive AFTER UPDATE OF active ON person "
            "WHEN OLD.active AND NOT NEW.active "
            "BEGIN DELETE FROM adminsession WHERE person_id = NEW.id; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS adminsession_person_inactive ON person")
        op.execute("DROP FUNCTION IF EXISTS adminsession_end()")
    else:
        op.execute("DROP TRIGGER IF EXISTS adminsession_person_inactive")
    op.drop_table("adminloginfailure")
    op.drop_table("adminsession")
