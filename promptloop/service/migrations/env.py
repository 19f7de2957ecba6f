"""Alembic's environment: run the revisions on the connection :func:`upgrade` hands over (or, for
``alembic`` on the command line, on ``sqlalchemy.url`` of the given alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlalchemy.engine import Connection

from promptloop.service.store import Base

config = context.config
connection = config.attributes.get("connection")


def _run(con: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode rebuilds the table instead
    context.configure(connection=con, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # pragma: no cover - the alembic command line
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as con:
        _run(con)
