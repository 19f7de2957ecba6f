"""Helpers of the reliability suite (imported by its test modules)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from srv_support import SHORT, Api, free_port, start_server, stop_server  # noqa: E402

__all__ = ["SHORT", "SOAK", "Api", "serve", "soak", "start_server", "stop_server", "until"]

SOAK = os.environ.get("PROMPTLOOP_SOAK", "") not in ("", "0")


def soak(quick: int, long: int) -> int:
    """``quick`` in CI, ``long`` with PROMPTLOOP_SOAK=1."""
    return long if SOAK else quick


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on a loopback port in a thread; yields the base URL."""
    import httpx
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(base + "/healthz", timeout=1)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"{what} not reached in {timeout} s"
        time.sleep(0.02)
