"""Backends registered by name; the CLI, server and harness all pick backends through here.

>>> from promptloop.wiring.registry import GENERATORS
>>> "synth" in GENERATORS.names()
True

A factory is called as ``factory(settings, **options)`` and a check as ``check(settings)``, so every
backend takes its configuration from the settings object its entry point read once.  Third-party
backends register through the ``promptloop.backends`` entry-point group: each entry point names a
callable ``register(registries: Registries) -> None`` (see docs/architecture.md).  Tests build a
fresh :class:`Registries` and register their fakes there, never in the global tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from promptloop.errors import BackendUnavailable, InputError

if TYPE_CHECKING:
    from promptloop.wiring.settings import Settings

__all__ = ["ENTRY_POINT_GROUP", "EVALUATORS", "GENERATORS", "PLANNERS", "BackendStatus", "Registries", "Registry"]

ENTRY_POINT_GROUP = "promptloop.backends"
log = logging.getLogger(__name__)
T = TypeVar("T")
Check = Callable[["Settings"], "str | None"]


@dataclass(frozen=True)
class BackendStatus:
    kind: str
    name: str
    usable: bool
    detail: str
    source: str = "built-in"


@dataclass(frozen=True)
class _Entry(Generic[T]):
    factory: Callable[..., T]
    check: Check  # None when usable, else the reason it is not
    description: str
    source: str


def _always_usable(settings: Settings) -> str | None:
    return None


class Registry(Generic[T]):
    """A name → factory table for one kind of backend."""

    def __init__(self, kind: str, loader: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, _Entry[T]] = {}
        self._loader = loader

    def _load(self) -> None:
        if self._loader is not None:
            loader, self._loader = self._loader, None
            loader()

    def register(
        self,
        name: str,
        factory: Callable[..., T],
        *,
        check: Check = _always_usable,
        description: str = "",
        source: str = "built-in",
    ) -> None:
        """Add a backend; ``factory(settings, **options)`` builds it, ``check(settings)`` returns None
        when it is usable here, else why not."""
        self._entries[name] = _Entry(factory, check, description, source)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def create(self, name: str, settings: Settings, **options: Any) -> T:
        """Build the backend called ``name``; unknown names are an :class:`InputError`."""
        self._load()
        entry = self._entries.get(name)
        if entry is None:
            raise InputError(f"unknown {self.kind} {name!r}; choose from: {', '.join(self.names())}")
        reason = entry.check(settings)
        if reason is not None:
            raise BackendUnavailable(f"{self.kind} {name!r} is not usable here: {reason}")
        return entry.factory(settings, **options)

    def status(self, settings: Settings) -> list[BackendStatus]:
        self._load()
        out = []
        for name in sorted(self._entries):
            entry = self._entries[name]
            try:
                reason = entry.check(settings)
            except Exception as exc:  # a broken optional install must not break `doctor`
                reason = f"check failed: {exc}"
            detail = entry.description if reason is None else reason
            out.append(BackendStatus(self.kind, name, reason is None, detail, entry.source))
        return out

    def copy(self) -> Registry[T]:
        self._load()
        other: Registry[T] = Registry(self.kind)
        other._entries = dict(self._entries)
        return other


@dataclass
class Registries:
    """The three tables one entry point builds its backends from."""

    generators: Registry[Any] = field(default_factory=lambda: Registry("generator"))
    planners: Registry[Any] = field(default_factory=lambda: Registry("planner"))
    evaluators: Registry[Any] = field(default_factory=lambda: Registry("evaluator"))

    @classmethod
    def with_builtins(cls) -> Registries:
        """Fresh tables with the built-ins and installed plugins (tests add their fakes here)."""
        return DEFAULT.copy()

    def copy(self) -> Registries:
        return Registries(self.generators.copy(), self.planners.copy(), self.evaluators.copy())


def _load_default() -> None:
    from promptloop.wiring.builtins import register_builtin_backends

    register_builtin_backends(DEFAULT)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            register = ep.load()
            plugin = Registries()
            register(plugin)
        except Exception as exc:  # a broken plugin is reported, never fatal
            log.warning("backend plugin %s failed to load: %s: %s", ep.name, type(exc).__name__, exc)
            continue
        source = f"plugin {ep.dist.name if ep.dist else ep.value}"
        for mine, theirs in ((DEFAULT.generators, plugin.generators), (DEFAULT.planners, plugin.planners),
                             (DEFAULT.evaluators, plugin.evaluators)):
            for name, entry in theirs._entries.items():
                if name in mine._entries:
                    log.warning("backend plugin %s: %s %r already exists; skipped", ep.name, mine.kind, name)
                    continue
                mine.register(name, entry.factory, check=entry.check, description=entry.description, source=source)


def _loaded_once() -> None:
    for table in (GENERATORS, PLANNERS, EVALUATORS):
        table._loader = None
    _load_default()


GENERATORS: Registry[Any] = Registry("generator", _loaded_once)
PLANNERS: Registry[Any] = Registry("planner", _loaded_once)
EVALUATORS: Registry[Any] = Registry("evaluator", _loaded_once)
DEFAULT = Registries(GENERATORS, PLANNERS, EVALUATORS)
