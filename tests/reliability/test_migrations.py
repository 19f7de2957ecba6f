"""The schema is Alembic's: a new database upgraded to the newest revision is exactly the models
(so a model change without a migration fails here), and a database made before migrations existed
(promptloop 0.1.0 made its tables directly) upgrades in place, its rows kept.  On SQLite and, with
``PROMPTLOOP_TEST_DB=postgresql``, on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from dbs import BACKEND, database_for, query, url_for
from promptloop.service import migrations
from promptloop.service.rotation import sealed_tables
from promptloop.service.store import Base, make_engine

BEFORE_MIGRATIONS = Path(__file__).parent / "data" / "schema-0.1.0-sqlite.sql"


def test_a_new_database_at_head_is_exactly_the_models(tmp_path: Path) -> None:
    sealed_tables()  # imports every module that declares models
    engine = make_engine(url_for(tmp_path))
    try:
        with engine.connect() as con:
            assert migrations.current(con) == migrations.head()
            assert compare_metadata(MigrationContext.configure(con), Base.metadata) == []
    finally:
        engine.dispose()
    again = make_engine(url_for(tmp_path))  # nothing to do the second time
    again.dispose()


@pytest.mark.skipif(BACKEND != "sqlite", reason="the 0.1.0 schema was recorded from SQLite")
def test_a_database_made_before_migrations_upgrades_in_place(tmp_path: Path) -> None:
    url = url_for(tmp_path)
    old = create_engine(url, poolclass=NullPool)
    with old.begin() as con:
        for statement in BEFORE_MIGRATIONS.read_text().split(";"):
            if statement.strip():
                con.execute(text(statement))
        con.execute(text("INSERT INTO users (id, name, created) VALUES (1, 'ana', '2026-11-30 10:00:00')"))
        con.execute(text("INSERT INTO sessions (id, user_id, title, created, updated, spec, state, segments_done, "
                         "sample_rate) VALUES ('s_old', 1, 'kept', '2026-11-30 10:00:00', '2026-11-30 10:00:00', "
                         "'{}', '{}', 0, 32000)"))
    old.dispose()
    engine = make_engine(url)
    try:
        with engine.connect() as con:
            assert migrations.current(con) == migrations.head()
    finally:
        engine.dispose()
    assert query(tmp_path, "SELECT title FROM sessions WHERE id = 's_old'") == [("kept",)]
    assert query(tmp_path, "SELECT name FROM users") == [("ana",)]
    names = {row[0] for row in query(tmp_path, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "uq_segments_session_index" in names  # revision 0002 ran on the old database


def test_postgresql_runs_use_a_real_server(tmp_path: Path) -> None:
    url = database_for(tmp_path)
    if BACKEND == "sqlite":
        assert url is None
        return
    assert url is not None and url.startswith("postgresql+psycopg://")
    version = query(tmp_path, "SELECT version()")[0][0]
    assert str(version).startswith("PostgreSQL")
