"""Migration 0004 creates the clinical tables exactly as the models declare them, and goes back."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from promptloop.service.clinical.models import TABLES
from promptloop.service.migrations import config, head, upgrade
from promptloop.service.store import Base

NAMES = {t.name for t in TABLES}


def test_the_migration_matches_the_models_and_downgrades(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    with engine.begin() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head()
        assert set(inspect(connection).get_table_names()) >= NAMES
        diffs = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
        ours = [d for d in diffs if any(name in repr(d) for name in NAMES)]
        assert ours == []  # no column, index, key or type differs from the models
        command.downgrade(config(connection), "0003")
        assert not NAMES & set(inspect(connection).get_table_names())
        command.upgrade(config(connection), "head")
        assert set(inspect(connection).get_table_names()) >= NAMES
    engine.dispose()
