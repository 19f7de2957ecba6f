"""Encryption at rest for listener data (physiological readings, chat messages).

The key lives in a file outside the database (``secret.key`` in the data folder, mode 0600), so a
copy of the database alone reveals nothing.  Fernet gives authenticated encryption (AES-128-CBC
with HMAC-SHA256); a tampered or foreign ciphertext is refused rather than misread.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from promptloop.errors import StorageError

__all__ = ["Vault", "load_or_create_key"]


def load_or_create_key(path: Path) -> bytes:
    """Read the key at ``path``; create it (readable by the owner only) when absent."""
    path = Path(path)
    if path.exists():
        key = path.read_bytes().strip()
        try:
            Fernet(key)
        except ValueError as exc:
            raise StorageError(f"encryption key file {path} is damaged") from exc
        return key
    key = Fernet.generate_key()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return load_or_create_key(path)
    except OSError as exc:
        raise StorageError(f"cannot create encryption key {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key


class Vault:
    """Encrypts and decrypts small JSON values and text."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, value: Any) -> bytes:
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode())

    def open(self, token: bytes) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:
            raise StorageError("stored listener data cannot be decrypted with this key") from exc
