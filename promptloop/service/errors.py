"""Errors of the service layer, below :class:`promptloop.errors.PromptloopError`.

The tree::

    PromptloopError
    ├── InputError                 (core) bad request content → 422
    ├── BackendUnavailable         (core) → 503
    ├── StorageError               (core) → 507
    └── ServiceError               the service refuses a request
        ├── Unauthorized           missing, unknown or revoked token → 401
        ├── NotFound               no such object for this user (also: another user's) → 404
        ├── Conflict               the object's state forbids it (session complete, job running) → 409
        ├── QueueFull              the generation queue is full → 429 with Retry-After
        └── RateLimited            (limits.py) too many requests from one user → 429 with Retry-After
            └── QuotaExceeded      (limits.py) the user's 24 h audio-seconds quota is spent → 429

The server turns each into a JSON problem response; the CLI into one line and an exit code.
"""

from __future__ import annotations

from promptloop.errors import PromptloopError

__all__ = ["Conflict", "JobCancelled", "NotFound", "QueueFull", "ServiceError", "Unauthorized"]


class ServiceError(PromptloopError):
    """The service refuses a request."""

    exit_code = 2
    status = 400


class Unauthorized(ServiceError):
    status = 401


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


class JobCancelled(PromptloopError):
    """Raised inside a running job when it was cancelled or ran past its deadline."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
