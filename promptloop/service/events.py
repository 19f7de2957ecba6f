"""Live updates for one session, fanned out to whoever listens (SSE streams, the terminal chat).

Publishers run on worker threads; each subscriber is a callable that must return quickly (the SSE
endpoint hands the event to its event loop with ``call_soon_threadsafe``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Broker", "Listener"]

Listener = Callable[[dict[str, Any]], None]


class Broker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, list[Listener]] = {}

    def subscribe(self, session_id: str, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._subscribers.setdefault(session_id, []).append(listener)

        def unsubscribe() -> None:
            with self._lock:
                listeners = self._subscribers.get(session_id, [])
                if listener in listeners:
                    listeners.remove(listener)
                if not listeners:
                    self._subscribers.pop(session_id, None)

        return unsubscribe

    def publish(self, session_id: str, event: dict[str, Any]) -> None:
        with self._lock:
            listeners = list(self._subscribers.get(session_id, ()))
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a broken subscriber must not break generation
                pass

    def subscribers(self, session_id: str) -> int:
        with self._lock:
            return len(self._subscribers.get(session_id, ()))
