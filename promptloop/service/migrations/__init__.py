"""The database schema, managed by Alembic: ``upgrade(engine)`` brings any database to the newest
revision at start-up (a new one is created from scratch, an older one upgrades in place).

A database made before migrations existed (promptloop 0.1.0 created its tables directly) holds the
baseline schema without Alembic's version table; it is stamped at the baseline and upgraded from
there.  How to add a revision: docs/server.md ("Schema changes").
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

__all__ = ["BASELINE", "config", "current", "head", "upgrade"]

BASELINE = "0001"
_FOLDER = Path(__file__).resolve().parent
_LOCK = 0x70726F6D  # PostgreSQL advisory lock id: one upgrading process at a time


def config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for this package's revisions (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_FOLDER))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision."""
    return ScriptDirectory.from_config(config()).get_current_head() or BASELINE


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Upgrade the database of ``engine`` to the newest revision (nothing to do when it is there)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK})
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" not in tables and "users" in tables:
            command.stamp(config(connection), BASELINE)  # made before migrations: the baseline schema
        elif current(connection) == head():
            return
        command.upgrade(config(connection), "head")
