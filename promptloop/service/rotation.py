"""Key rotation (``promptloop keys rotate``): a new key seals everything, the old keys are dropped.

Run it with the server stopped.  The steps are ordered so that a crash anywhere leaves data that
opens with the key file as it then is:

1. the new key goes first in the key file, the old keys stay behind it (everything still opens);
2. every sealed value in the database (each mapped table's ``sealed`` column: readings, messages,
   profiles, clinical records...) is re-sealed with the new key, in batches;
3. every sealed file in the data folder (audio, mixes, MIDI, reports) whose header names an older key
   is re-sealed with the new key, one file at a time (atomic replace, owner-only);
4. only then are the old keys removed from the key file.

A rotation cut short is finished by running it again: it starts with another new key and re-seals
whatever the first run left.  Keep a backup of the key file itself: without it nothing can be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session as DB

from promptloop.service.crypto import Keyring, Vault, load_or_create_keyring, sealed_key_id, write_keyring
from promptloop.service.files import KEY_FILE
from promptloop.service.store import Base, make_engine, sqlite_url

__all__ = ["SEALED_FOLDERS", "rotate_keys"]

#: Folders of the data folder whose files are sealed.
SEALED_FOLDERS = ("audio", "reports", "midi", "playlists")
_BATCH = 500


def rotate_keys(data_dir: Path, database_url: str | None = None) -> dict[str, int]:
    """Rotate the key of the data folder ``data_dir``; counts of what was re-sealed."""
    data = Path(data_dir)
    key_file = data / KEY_FILE
    old = load_or_create_keyring(key_file)
    ring = Keyring([Fernet.generate_key(), *old.keys])
    write_keyring(key_file, ring.keys)  # 1
    vault = Vault(ring)
    counts = {"old_keys": len(old.keys), "files": 0}
    engine = make_engine(database_url or sqlite_url(data))
    try:
        present = set(inspect(engine).get_table_names())
        with DB(engine) as db:  # 2
            for table in sealed_tables():
                if table.__tablename__ in present:
                    counts[table.__tablename__] = _reseal_rows(db, vault, table)
    finally:
        engine.dispose()
    for folder in SEALED_FOLDERS:  # 3
        root = data / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.endswith(".part"):
                key_id = sealed_key_id(path)
                if key_id is not None and key_id != ring.primary_id:
                    vault.write_file(path, vault.read_file(path))
                    counts["files"] += 1
    write_keyring(key_file, ring.keys[:1])  # 4
    return counts


def sealed_tables() -> list[type[Any]]:
    """Every mapped class with a ``sealed`` column (found, so a new table of listener data is never
    missed), in a stable order."""
    import promptloop.service.clinical.models  # noqa: F401  (register every model on Base)
    import promptloop.service.profiles  # noqa: F401

    found = [m.class_ for m in Base.registry.mappers if "sealed" in m.columns]
    return sorted(found, key=lambda c: c.__tablename__)


def _reseal_rows(db: DB, vault: Vault, table: type[Any]) -> int:
    """Re-seal the ``sealed`` column of every row of ``table``, a batch per commit, in key order."""
    key = inspect(table).primary_key[0]
    done, last = 0, None
    while True:
        query = select(table).order_by(key).limit(_BATCH)
        rows = db.scalars(query if last is None else query.where(key > last)).all()
        if not rows:
            return done
        for row in rows:
            row.sealed = vault.reseal(row.sealed)
        db.commit()
        done += len(rows)
        last = getattr(rows[-1], key.key)
