"""Key rotation (``promptloop keys rotate``): a new key seals everything, the old keys are dropped.

Run it with the server stopped.  The steps are ordered so that a crash anywhere leaves data that
opens with the key file as it then is:

1. the new key goes first in the key file, the old keys stay behind it (everything still opens);
2. every reading and message in the database is re-sealed with the new key, in batches;
3. every sealed file in the data folder (audio, mixes, MIDI, reports) whose header names an older key
   is re-sealed with the new key, one file at a time (atomic replace, owner-only);
4. only then are the old keys removed from the key file.

A rotation cut short is finished by running it again: it starts with another new key and re-seals
whatever the first run left.  Keep a backup of the key file itself: without it nothing can be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session as DB

from promptloop.service.crypto import Keyring, Vault, load_or_create_keyring, sealed_key_id, write_keyring
from promptloop.service.files import KEY_FILE
from promptloop.service.store import MessageRow, ReadingRow, make_engine, sqlite_url

__all__ = ["SEALED_FOLDERS", "rotate_keys"]

#: Folders of the data folder whose files are sealed.
SEALED_FOLDERS = ("audio", "reports", "midi")
_BATCH = 500
Sealed = TypeVar("Sealed", ReadingRow, MessageRow)


def rotate_keys(data_dir: Path, database_url: str | None = None) -> dict[str, int]:
    """Rotate the key of the data folder ``data_dir``; counts of what was re-sealed."""
    data = Path(data_dir)
    key_file = data / KEY_FILE
    old = load_or_create_keyring(key_file)
    ring = Keyring([Fernet.generate_key(), *old.keys])
    write_keyring(key_file, ring.keys)  # 1
    vault = Vault(ring)
    counts = {"old_keys": len(old.keys), "readings": 0, "messages": 0, "files": 0}
    engine = make_engine(database_url or sqlite_url(data))
    try:
        with DB(engine) as db:  # 2
            counts["readings"] = _reseal_rows(db, vault, ReadingRow)
            counts["messages"] = _reseal_rows(db, vault, MessageRow)
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


def _reseal_rows(db: DB, vault: Vault, table: type[Sealed]) -> int:
    done, last = 0, 0
    while True:
        rows = db.scalars(select(table).where(table.id > last).order_by(table.id).limit(_BATCH)).all()
        if not rows:
            return done
        for row in rows:
            row.sealed = vault.reseal(row.sealed)
        db.commit()
        done += len(rows)
        last = rows[-1].id
