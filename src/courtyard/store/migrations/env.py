"""Alembic environment: migrates the connection the store hands over in ``attributes``.

Run programmatically by ``courtyard.store.schema.upgrade``; also works with the ``alembic``
command given ``-x url=...`` (for writing new revisions with ``alembic revision --autogenerate``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from courtyard.store.models import Base


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    url = url or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass the database with: alembic -x url=sqlite:///path ...")
    engine = create_engine(url)
    with engine.connect() as conn:
        run_on(conn)
    engine.dispose()


run()
