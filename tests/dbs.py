"""The database the server and reliability suites run on: SQLite (a file in each data folder, the
default) or a real PostgreSQL server (``PROMPTLOOP_TEST_DB=postgresql``).

For PostgreSQL a throwaway cluster is made with Debian's ``postgresql`` binaries (``initdb`` and
``pg_ctl``; as root they run as the ``postgres`` user), listening on a free loopback port, and
removed when the test run ends.  Each data folder a test uses gets its own database, so a service
restarted on the same folder finds its data again and two services of one test never share rows.
The cluster trades durability for speed (``fsync=off``): the tests kill the service, never the
database server.
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

__all__ = ["BACKEND", "Cluster", "cluster", "database_for", "integrity_problems", "query", "raw_bytes", "url_for"]

BACKEND = os.environ.get("PROMPTLOOP_TEST_DB", "sqlite").strip().lower() or "sqlite"
if BACKEND not in ("sqlite", "postgresql"):
    raise RuntimeError(f"PROMPTLOOP_TEST_DB must be sqlite or postgresql, not {BACKEND!r}")


def _bindir() -> Path | None:
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if versions:  # Debian keeps each version's server tools here
        return Path(versions[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster in a temporary folder, on a loopback port, owned by this test run."""

    USER = "promptloop"

    def __init__(self) -> None:
        bindir = _bindir()
        if bindir is None:
            raise RuntimeError("PROMPTLOOP_TEST_DB=postgresql needs PostgreSQL's server binaries "
                               "(Debian: apt-get install postgresql)")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="promptloop-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.USER, "-E", "UTF8", "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                  "-o", options, "start")
        self._databases: dict[str, str] = {}
        self._lock = threading.Lock()

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.USER}@127.0.0.1:{self.port}/{database}"

    def database(self, key: str) -> str:
        """The URL of the database for ``key`` (made on first use)."""
        name = "t_" + hashlib.sha256(key.encode()).hexdigest()[:20]
        with self._lock:
            if name not in self._databases:
                import psycopg

                with psycopg.connect(host="127.0.0.1", port=self.port, user=self.USER, dbname="postgres",
                                     autocommit=True) as con:
                    con.execute(f'CREATE DATABASE "{name}"')
                self._databases[name] = self.url(name)
            return self._databases[name]

    def amcheck(self, url: str) -> str:
        """``pg_amcheck`` of the database at ``url``: every table's heap and every B-tree index."""
        database = url.rsplit("/", 1)[1]
        done = subprocess.run([str(self.bindir / "pg_amcheck"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                               self.USER, "-d", database, "--install-missing", "--heapallindexed"],
                              capture_output=True, text=True, timeout=300)
        return "" if done.returncode == 0 else (done.stdout + done.stderr).strip()

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


_cluster: Cluster | None = None
_start_lock = threading.Lock()


def cluster() -> Cluster:
    """The run's cluster, started on first use and stopped when the run ends."""
    global _cluster
    with _start_lock:
        if _cluster is None:
            _cluster = Cluster()
            atexit.register(_cluster.stop)
        return _cluster


def database_for(data_dir: Path | str) -> str | None:
    """The database URL a service on ``data_dir`` uses: None (SQLite in the folder) or PostgreSQL."""
    if BACKEND == "sqlite":
        return None
    return cluster().database(str(Path(data_dir).resolve()))


def integrity_problems(data_dir: Path | str) -> list[str]:
    """What a database integrity check finds (nothing when whole): SQLite's ``integrity_check`` and
    ``foreign_key_check``; for PostgreSQL ``pg_amcheck`` (foreign keys are enforced by the server)."""
    url = database_for(data_dir)
    if url is None:
        import sqlite3

        with sqlite3.connect(Path(data_dir) / "promptloop.db") as con:
            problems = [row[0] for row in con.execute("PRAGMA integrity_check") if row != ("ok",)]
            problems += [repr(row) for row in con.execute("PRAGMA foreign_key_check")]
        return problems
    found = cluster().amcheck(url)
    return [found] if found else []


def url_for(data_dir: Path | str) -> str:
    """The URL a service on ``data_dir`` uses, SQLite's file spelled out."""
    return database_for(data_dir) or f"sqlite:///{Path(data_dir) / 'promptloop.db'}"


def query(data_dir: Path | str, sql: str, **params: object) -> list[tuple[object, ...]]:
    """Rows of ``sql`` (named ``:params``) on the database of ``data_dir``, read beside the service."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url_for(data_dir), poolclass=NullPool)
    try:
        with engine.connect() as con:
            result = con.execute(text(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def raw_bytes(data_dir: Path | str) -> bytes:
    """Everything the database server keeps on disk for the database of ``data_dir`` (what a thief of
    the disk would read): SQLite's file with its WAL; PostgreSQL's table files and its whole WAL,
    after a checkpoint so that the table files hold the latest rows too."""
    url = database_for(data_dir)
    if url is None:
        return b"".join(p.read_bytes() for p in sorted(Path(data_dir).glob("promptloop.db*")))
    name = url.rsplit("/", 1)[1]
    oid = query(data_dir, "SELECT oid FROM pg_database WHERE datname = :name", name=name)[0][0]
    query(data_dir, "CHECKPOINT")
    folder = cluster().data
    files = sorted((folder / "base" / str(oid)).iterdir()) + sorted((folder / "pg_wal").glob("0*"))
    return b"".join(p.read_bytes() for p in files if p.is_file())
