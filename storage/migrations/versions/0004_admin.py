"""admin: log-ins, API tokens, list indexes, issue counts, text search

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

The issue list filters on one column and shows the newest first, so each filter column gets an
index ending in (created_at, id): the filter and the order come from one index.

The counts on top of the list (per status, for a village, group, kind or owner) are read from
issuetally, which triggers keep in step with every insert, update and delete of an issue.

Text search finds any substring of two or more characters (Chinese has no spaces, so words are
not the unit): PostgreSQL indexes the set of character pairs of each text (GIN over an
expression, always in step with the table); SQLite keeps the pairs in an FTS5 table that
storage.queries fills from the issue table (issue text is written once, at registration).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Also declared on storage.models.Issue.
LIST_INDEXES = {
    "ix_issue_new": ["created_at", "id"],
    "ix_issue_village_new": ["village_id", "created_at", "id"],
    "ix_issue_group_new": ["group_id", "created_at", "id"],
    "ix_issue_kind_new": ["kind", "created_at", "id"],
    "ix_issue_status_new": ["status", "created_at", "id"],
    "ix_issue_owner_new": ["owner_id", "created_at", "id"],
    "ix_issue_due": ["due_at", "id"],
    "ix_issue_closed": ["closed_at"],
    # Overdue counts for any list filter from the index alone (open issues are few).
    "ix_issue_due_cover": ["status", "due_at", "village_id", "group_id", "kind", "owner_id"],
}

TALLY_KEY = ("village_id", "group_id", "kind", "status", "owner_id")


def _tally_values(row: str) -> str:
    return (
        f"{row}.village_id, coalesce({row}.group_id, 0), {row}.kind, {row}.status, "
        f"coalesce({row}.owner_id, 0)"
    )


def _tally_match(row: str) -> str:
    return (
        f"village_id = {row}.village_id AND group_id = coalesce({row}.group_id, 0) "
        f"AND kind = {row}.kind AND status = {row}.status "
        f"AND owner_id = coalesce({row}.owner_id, 0)"
    )


def _tally_add(row: str) -> str:
    return (
        f"INSERT INTO issuetally ({', '.join(TALLY_KEY)}, n) VALUES ({_tally_values(row)}, 1) "
        f"ON CONFLICT ({', '.join(TALLY_KEY)}) DO UPDATE SET n = issuetally.n + 1"
    )


def _tally_remove(row: str) -> str:
    return f"UPDATE issuetally SET n = n - 1 WHERE {_tally_match(row)}"


TALLY_CHANGED = " OR ".join(
    f"OLD.{c} IS DISTINCT FROM NEW.{c}"
    for c in ("village_id", "group_id", "kind", "status", "owner_id")
)

PG_TALLY = f"""
CREATE OR REPLACE FUNCTION issue_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN {_tally_remove("OLD")}; END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN {_tally_add("NEW")}; END IF;
  RETURN NULL;
END $$
"""

# The characters and character pairs of a text (storage.queries.pg_grams asks for them).
PG_GRAMS = """
CREATE OR REPLACE FUNCTION shuoshi_grams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT g), '{}') FROM (
    SELECT substr(lower(t), i, 1) AS g FROM generate_series(1, char_length(t)) AS i
    UNION ALL
    SELECT substr(lower(t), i, 2) FROM generate_series(1, char_length(t) - 1) AS i
  ) AS grams
$$
"""


def upgrade() -> None:
    op.create_table(
        "adminlogin",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("person_id"),
    )
    op.create_table(
        "apitoken",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("apitoken", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apitoken_person_id"), ["person_id"], unique=False)
    with op.batch_alter_table("issue", schema=None) as batch_op:
        for name, columns in LIST_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)

    op.create_table(
        "issuetally",
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*TALLY_KEY),
    )
    op.execute(
        f"INSERT INTO issuetally ({', '.join(TALLY_KEY)}, n) "
        f"SELECT {_tally_values('issue')}, count(*) FROM issue GROUP BY {_tally_values('issue')}"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_TALLY)
        op.execute(
            "CREATE TRIGGER issue_tally_insert_delete AFTER INSERT OR DELETE ON issue "
            "FOR EACH ROW EXECUTE FUNCTION issue_tally()"
        )
        op.execute(
            "CREATE TRIGGER issue_tally_update AFTER UPDATE ON issue "
            f"FOR EACH ROW WHEN ({TALLY_CHANGED}) EXECUTE FUNCTION issue_tally()"
        )
        op.execute(PG_GRAMS)
        op.execute("CREATE INDEX ix_issue_grams ON issue USING gin (shuoshi_grams(text))")
    else:
        changed = TALLY_CHANGED.replace("IS DISTINCT FROM", "IS NOT")
        add, remove = _tally_add("NEW"), _tally_remove("OLD")
        op.execute(f"CREATE TRIGGER issue_tally_insert AFTER INSERT ON issue BEGIN {add}; END")
        op.execute(f"CREATE TRIGGER issue_tally_delete AFTER DELETE ON issue BEGIN {remove}; END")
        op.execute(
            f"CREATE TRIGGER issue_tally_update AFTER UPDATE ON issue WHEN {changed} "
            f"BEGIN {remove}; {add}; END"
        )
        # Contentless (the text stays in issue), no positions (matches are re-checked).
        op.execute(
            "CREATE VIRTUAL TABLE issue_search USING fts5("
            "grams, content='', detail=none, tokenize='unicode61 remove_diacritics 0')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_issue_grams")
        op.execute("DROP FUNCTION IF EXISTS shuoshi_grams(text)")
        op.execute("DROP TRIGGER IF EXISTS issue_tally_insert_delete ON issue")
        op.execute("DROP TRIGGER IF EXISTS issue_tally_update ON issue")
        op.execute("DROP FUNCTION IF EXISTS issue_tally()")
    else:
        op.execute("DROP TABLE IF EXISTS issue_search")
        for name in ("issue_tally_insert", "issue_tally_delete", "issue_tally_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("issuetally")
    with op.batch_alter_table("issue", schema=None) as batch_op:
        for name in LIST_INDEXES:
            batch_op.drop_index(name)
    with op.batch_alter_table("apitoken", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apitoken_person_id"))
    op.drop_table("apitoken")
    op.drop_table("adminlogin")
