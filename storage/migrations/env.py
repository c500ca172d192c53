"""Alembic environment: runs on the connection handed in by storage.db.upgrade, or on the URL."""

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import storage.admin_tables  # the admin's log-in tables
import storage.models  # noqa: F401  (registers the tables)
from storage.search import not_search_object

config = context.config
target_metadata = SQLModel.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_name=not_search_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_name=not_search_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()


run()
