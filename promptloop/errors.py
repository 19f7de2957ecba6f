"""Errors raised by promptloop.

The tree::

    PromptloopError                 base of everything promptloop raises on purpose
    ├── InputError                  the caller gave something unusable (bad affect word, NaN reading,
    │   │                           unreadable audio, conflicting preferences, bad spec file)
    │   └── ConstraintViolation     a plan or prompt breaks the listener's constraints
    ├── BackendUnavailable          a backend cannot run here (missing extra, missing weights)
    ├── GenerationError             a backend failed while producing audio or a plan
    └── StorageError                output could not be written (read-only folder, full disk)

The CLI turns these into one line and exit code 2 (``InputError``, ``BackendUnavailable``,
``StorageError``) or 1 (``GenerationError``); the server turns them into JSON problem responses.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailable",
    "ConstraintViolation",
    "GenerationError",
    "InputError",
    "PromptloopError",
    "StorageError",
]


class PromptloopError(Exception):
    """Base class for errors promptloop raises deliberately."""

    exit_code = 1


class InputError(PromptloopError, ValueError):
    """The caller supplied something that cannot be used."""

    exit_code = 2


class ConstraintViolation(InputError):
    """A plan or prompt breaks the listener's constraints (avoided sounds, gentle mode...)."""


class BackendUnavailable(PromptloopError):
    """A backend cannot run on this machine; the message says how to make it available."""

    exit_code = 2


class GenerationError(PromptloopError):
    """A backend raised or returned something unusable while producing audio or a plan."""


class StorageError(PromptloopError, OSError):
    """Output could not be written; nothing partial was left behind."""

    exit_code = 2
