"""The engine shared by the REST API (``server/``), the web chat page and ``promptloop chat``.

>>> from promptloop.service import Service, ServiceConfig
>>> service = Service(ServiceConfig(data_dir=tmp))              # doctest: +SKIP
>>> user, token = service.create_user("alice")                  # doctest: +SKIP

Modules: :mod:`.engine` (sessions, readings, chat, jobs, export/erase), :mod:`.store` (SQLAlchemy
tables), :mod:`.accounts` (hashed bearer tokens), :mod:`.crypto` (listener data encrypted at rest),
:mod:`.workers` and :mod:`.ray_pool` (where generation runs), :mod:`.files` (audio on disk),
:mod:`.events` (live updates); its errors are in :mod:`promptloop.errors`.
"""

from promptloop.errors import (
    Conflict,
    NotFound,
    QueueFull,
    ServiceError,
    Unauthorized,
)
from promptloop.service.engine import LIMITS, Service, ServiceConfig
from promptloop.service.workers import InProcessPool, JobContext, WorkerPool

__all__ = [
    "LIMITS",
    "Conflict",
    "InProcessPool",
    "JobContext",
    "NotFound",
    "QueueFull",
    "Service",
    "ServiceConfig",
    "ServiceError",
    "Unauthorized",
    "WorkerPool",
]
