"""Encryption at rest for listener data: readings and chat messages in the database, and every file
the service keeps for a listener (segment audio, session mixes, MIDI, reports).

The keys live in a key file outside the database (``secret.key`` in the data folder, mode 0600), one
Fernet key per line, the newest first, so a copy of the database or of the audio folder alone
reveals nothing.  Values in the database are Fernet tokens (AES-128-CBC + HMAC-SHA256) opened with
:class:`~cryptography.fernet.MultiFernet`, so values sealed with an older key still open.

Files are sealed in 64 KiB chunks with AES-256-GCM (``cryptography``'s AEAD).  Each file has its own
key, derived by HKDF from the key-file key its header names and a random salt; each chunk's nonce is
its number plus a last-chunk flag, so chunks cannot be reordered, dropped or cut off unnoticed, and a
byte range is read by opening only the chunks it covers (range requests on audio).  Tink's streaming
AEAD does the same but brings protobuf along and has no random access in Python.

Rotation (:mod:`promptloop.service.rotation`, ``promptloop keys rotate``) puts a new key first, re-seals every value and file with
it, and only then drops the old keys: a crash in between leaves a key file that still opens all.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from promptloop.errors import StorageError

__all__ = ["CHUNK", "Keyring", "Vault", "load_or_create_key", "load_or_create_keyring", "sealed_key_id", "write_keyring"]

MAGIC = b"PLSEAL01"
CHUNK = 64 * 1024
_TAG = 16
_HEADER = struct.Struct(">8s8s16s")  # magic, key id, salt
_NONCE = struct.Struct(">3xQ?")  # chunk number, last chunk


def _hkdf(secret: bytes, info: bytes, length: int = 32, salt: bytes | None = None) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


class Keyring:
    """The keys of a key file, the newest (the one that seals) first."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise StorageError("the key file holds no key")
        self.keys = list(keys)
        self.fernet = MultiFernet([Fernet(k) for k in self.keys])
        raw = [base64.urlsafe_b64decode(k) for k in self.keys]
        self._file_keys = {_hkdf(r, b"promptloop key id", 8): _hkdf(r, b"promptloop files") for r in raw}
        self.primary_id = _hkdf(raw[0], b"promptloop key id", 8)

    def file_key(self, key_id: bytes) -> bytes:
        try:
            return self._file_keys[key_id]
        except KeyError:
            raise StorageError("a stored file was sealed with a key that is not in the key file") from None


def _parse(path: Path, text: bytes) -> list[bytes]:
    keys = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(b"#")]
    for key in keys:
        try:
            Fernet(key)
        except ValueError as exc:
            raise StorageError(f"encryption key file {path} is damaged") from exc
    return keys


def write_keyring(path: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically; readable by the owner only."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)  # mode 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"".join(k + b"\n" for k in keys))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise StorageError(f"cannot write the key file {path}: {exc.strerror or exc}") from exc


def load_or_create_keyring(path: Path) -> Keyring:
    """The key file at ``path``; created with one new key (mode 0600) when absent."""
    path = Path(path)
    try:
        return Keyring(_parse(path, path.read_bytes()))
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StorageError(f"cannot read the key file {path}: {exc.strerror or exc}") from exc
    key = Fernet.generate_key()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return load_or_create_keyring(path)
    except OSError as exc:
        raise StorageError(f"cannot create encryption key {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    return Keyring([key])


def load_or_create_key(path: Path) -> bytes:
    """The newest key of the key file at ``path`` (created when absent)."""
    return load_or_create_keyring(path).keys[0]


class Vault:
    """Seals and opens listener data: small JSON values (database) and whole files (disk)."""

    def __init__(self, keys: Keyring | bytes) -> None:
        self.keyring = keys if isinstance(keys, Keyring) else Keyring([keys])

    # -- values in the database -------------------------------------------------------------------
    def seal(self, value: Any) -> bytes:
        return self.keyring.fernet.encrypt(json.dumps(value, separators=(",", ":")).encode())

    def open(self, token: bytes) -> Any:
        try:
            return json.loads(self.keyring.fernet.decrypt(token))
        except InvalidToken as exc:
            raise StorageError("stored listener data cannot be decrypted with this key") from exc

    def reseal(self, token: bytes) -> bytes:
        """``token`` sealed again with the newest key (rotation)."""
        try:
            return self.keyring.fernet.rotate(token)
        except InvalidToken as exc:
            raise StorageError("stored listener data cannot be decrypted with this key") from exc

    # -- files -------------------------------------------------------------------------------------
    def seal_bytes(self, data: bytes) -> bytes:
        salt = os.urandom(16)
        header = _HEADER.pack(MAGIC, self.keyring.primary_id, salt)
        aead = AESGCM(_hkdf(self.keyring.file_key(self.keyring.primary_id), b"promptloop file", 32, salt))
        count = max(1, -(-len(data) // CHUNK))
        parts = [header]
        for i in range(count):
            parts.append(aead.encrypt(_NONCE.pack(i, i == count - 1), data[i * CHUNK:(i + 1) * CHUNK], header))
        return b"".join(parts)

    def open_bytes(self, blob: bytes) -> bytes:
        return b"".join(self._chunks(blob, 0, None))

    def write_file(self, path: Path, data: bytes) -> None:
        """Seal ``data`` into ``path`` atomically (temporary file + rename, mode 0600)."""
        from promptloop.audio.io import atomic_write_bytes

        atomic_write_bytes(path, self.seal_bytes(data))

    def read_file(self, path: Path) -> bytes:
        return self.open_bytes(_read(path))

    def plain_size(self, path: Path) -> int:
        """The length of the plain content of the sealed file at ``path``, from its size alone."""
        return _plain_size(Path(path).stat().st_size)

    def read_range(self, path: Path, start: int, stop: int) -> Iterator[bytes]:
        """The plain bytes ``start:stop`` of the sealed file at ``path``, chunk by chunk."""
        with Path(path).open("rb") as handle:
            header = handle.read(_HEADER.size)
            aead, count = self._aead(header, os.fstat(handle.fileno()).st_size)
            for i in range(start // CHUNK, min(count, -(-stop // CHUNK))):
                handle.seek(_HEADER.size + i * (CHUNK + _TAG))
                plain = self._open_chunk(aead, handle.read(CHUNK + _TAG), i, count, header)
                yield plain[max(0, start - i * CHUNK):max(0, stop - i * CHUNK)]

    def _aead(self, header: bytes, size: int) -> tuple[AESGCM, int]:
        if len(header) != _HEADER.size:
            raise StorageError("a stored file is not sealed (or is cut short)")
        magic, key_id, salt = _HEADER.unpack(header)
        if magic != MAGIC:
            raise StorageError("a stored file is not sealed by promptloop")
        count = max(1, -(-(size - _HEADER.size) // (CHUNK + _TAG)))
        return AESGCM(_hkdf(self.keyring.file_key(key_id), b"promptloop file", 32, salt)), count

    @staticmethod
    def _open_chunk(aead: AESGCM, body: bytes, index: int, count: int, header: bytes) -> bytes:
        try:
            return aead.decrypt(_NONCE.pack(index, index == count - 1), body, header)
        except InvalidTag:
            raise StorageError("a stored file is damaged or was not sealed with this key") from None

    def _chunks(self, blob: bytes, start: int, stop: int | None) -> Iterator[bytes]:
        header = blob[:_HEADER.size]
        aead, count = self._aead(header, len(blob))
        for i in range(count):
            offset = _HEADER.size + i * (CHUNK + _TAG)
            yield self._open_chunk(aead, blob[offset:offset + CHUNK + _TAG], i, count, header)


def sealed_key_id(path: Path) -> bytes | None:
    """The id of the key that sealed the file at ``path``; None when it is not a sealed file."""
    with Path(path).open("rb") as handle:
        header = handle.read(_HEADER.size)
    if len(header) < _HEADER.size or not header.startswith(MAGIC):
        return None
    key_id: bytes = _HEADER.unpack(header)[1]
    return key_id


def _plain_size(size: int) -> int:
    body = size - _HEADER.size
    full, rest = divmod(body, CHUNK + _TAG)
    if body < _TAG or (rest and rest < _TAG):
        raise StorageError("a stored file is cut short")
    return full * CHUNK + (rest - _TAG if rest else 0)


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc
