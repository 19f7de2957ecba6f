"""Every error promptloop raises on purpose, in one tree.

The tree (the HTTP status the server answers with, where it is one)::

    PromptloopError                 base of everything promptloop raises on purpose
    ├── InputError                  the caller gave something unusable (bad affect word, NaN reading,
    │   │                           unreadable audio, conflicting preferences, bad spec file) → 422
    │   ├── ConstraintViolation     a plan or prompt breaks the listener's constraints
    │   └── TemplateError           a prompt template is missing, malformed or misses a variable
    ├── BackendUnavailable          a backend cannot run here (missing extra, missing weights) → 503
    ├── GenerationError             a backend failed while producing audio or a plan
    │   └── PlanRejected            a model gave no usable plan (time-out, malformed or unsafe answer)
    ├── StorageError                output could not be written (read-only folder, full disk) → 507
    ├── JobCancelled                inside a running job: it was cancelled or ran past its deadline
    └── ServiceError                the service refuses a request
        ├── Unauthorized            missing, unknown or revoked token → 401
        ├── Forbidden               known caller, but the grant does not cover this → 403
        ├── NotFound                no such object for this caller (also: another user's) → 404
        ├── Conflict                the object's state forbids it (session complete, job running) → 409
        ├── QueueFull               the generation queue is full → 429 with Retry-After
        └── RateLimited             too many requests from one caller → 429 with Retry-After
            └── QuotaExceeded       the caller's 24 h audio-seconds quota is spent → 429

The CLI turns these into one line and exit code 2 (``InputError``, ``BackendUnavailable``,
``StorageError``, ``ServiceError``) or 1 (the rest); the server turns them into JSON problem responses.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailable",
    "Conflict",
    "ConstraintViolation",
    "Forbidden",
    "GenerationError",
    "InputError",
    "JobCancelled",
    "NotFound",
    "PlanRejected",
    "PromptloopError",
    "QueueFull",
    "QuotaExceeded",
    "RateLimited",
    "ServiceError",
    "StorageError",
    "TemplateError",
    "Unauthorized",
]


class PromptloopError(Exception):
    """Base class for errors promptloop raises deliberately."""

    exit_code = 1


class InputError(PromptloopError, ValueError):
    """The caller supplied something that cannot be used."""

    exit_code = 2


class ConstraintViolation(InputError):
    """A plan or prompt breaks the listener's constraints (avoided sounds, gentle mode...)."""


class TemplateError(InputError):
    """A prompt template is missing, malformed, or rendered without a declared variable."""


class BackendUnavailable(PromptloopError):
    """A backend cannot run on this machine; the message says how to make it available."""

    exit_code = 2


class GenerationError(PromptloopError):
    """A backend raised or returned something unusable while producing audio or a plan."""


class PlanRejected(GenerationError):
    """The model gave no usable plan (time-out, error, malformed or unsafe answer)."""


class StorageError(PromptloopError, OSError):
    """Output could not be written; nothing partial was left behind."""

    exit_code = 2


class JobCancelled(PromptloopError):
    """Raised inside a running job when it was cancelled or ran past its deadline."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ServiceError(PromptloopError):
    """The service refuses a request."""

    exit_code = 2
    status = 400


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class QueueFull(ServiceError):
    """The bounded generation queue has no free slot; try again after ``retry_after`` seconds."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(ServiceError):
    """Too many requests from one caller; try again after ``retry_after`` seconds (429)."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExceeded(RateLimited):
    """The user's quota of generated audio seconds for the last 24 hours is spent (429)."""
