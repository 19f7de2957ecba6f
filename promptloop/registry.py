"""Backends registered by name; the CLI, server and harness all pick backends through here.

>>> from promptloop.registry import GENERATORS
>>> "synth" in GENERATORS.names()
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from promptloop.errors import BackendUnavailable, InputError

__all__ = ["EVALUATORS", "GENERATORS", "PLANNERS", "BackendStatus", "Registry"]

T = TypeVar("T")


@dataclass(frozen=True)
class BackendStatus:
    kind: str
    name: str
    usable: bool
    detail: str


@dataclass(frozen=True)
class _Entry(Generic[T]):
    factory: Callable[..., T]
    check: Callable[[], str | None]  # None when usable, else the reason it is not
    description: str


def _always_usable() -> str | None:
    return None


class Registry(Generic[T]):
    """A name → factory table for one kind of backend."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, _Entry[T]] = {}

    def register(
        self,
        name: str,
        factory: Callable[..., T],
        *,
        check: Callable[[], str | None] = _always_usable,
        description: str = "",
    ) -> None:
        """Add a backend; ``check`` returns None when usable here, else why not."""
        self._entries[name] = _Entry(factory, check, description)

    def names(self) -> list[str]:
        _ensure_builtins()
        return sorted(self._entries)

    def create(self, name: str, **options: Any) -> T:
        """Build the backend called ``name``; unknown names are an :class:`InputError`."""
        _ensure_builtins()
        entry = self._entries.get(name)
        if entry is None:
            raise InputError(f"unknown {self.kind} {name!r}; choose from: {', '.join(self.names())}")
        reason = entry.check()
        if reason is not None:
            raise BackendUnavailable(f"{self.kind} {name!r} is not usable here: {reason}")
        return entry.factory(**options)

    def status(self) -> list[BackendStatus]:
        _ensure_builtins()
        out = []
        for name in sorted(self._entries):
            entry = self._entries[name]
            try:
                reason = entry.check()
            except Exception as exc:  # a broken optional install must not break `doctor`
                reason = f"check failed: {exc}"
            detail = entry.description if reason is None else reason
            out.append(BackendStatus(self.kind, name, reason is None, detail))
        return out


GENERATORS: Registry[Any] = Registry("generator")
PLANNERS: Registry[Any] = Registry("planner")
EVALUATORS: Registry[Any] = Registry("evaluator")

_loaded = False


def _ensure_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from promptloop.backends import register_builtin_backends

        register_builtin_backends(GENERATORS, PLANNERS, EVALUATORS)
