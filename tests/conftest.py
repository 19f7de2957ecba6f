"""Shared fixtures.  Unit tests never touch the network: sockets to anything but loopback fail."""

from __future__ import annotations

import os
import socket
import tempfile

import numpy as np
import pytest

# The embedder's store of system-text vectors lives in the user's cache folder; a test run gets a
# fresh one (and never writes into the developer's home), subprocesses included.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="promptloop-test-cache-")

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1")) and self.family != socket.AF_UNIX:
        raise RuntimeError(f"tests must not reach the network (tried {address!r})")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(scope="session")
def sr() -> int:
    return 32000


def tone(freq: float, seconds: float, sr: int = 32000, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
