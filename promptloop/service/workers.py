"""Where generation runs: a worker pool behind a bounded queue.

:class:`WorkerPool` is the interface the service uses; :class:`InProcessPool` (the default) runs
jobs on threads of this process.  A full queue refuses new work at once with :class:`QueueFull`
(the server answers 429 with Retry-After).  Each job has a deadline; cancelling a queued job frees
its slot immediately, cancelling a running one makes its next :meth:`JobContext.check` raise.  A
job that hangs past its deadline (a backend that never returns) is abandoned: the pool reports it
failed and starts a replacement thread, so the other jobs keep being served.
"""

from __future__ import annotations

import abc
import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from promptloop.errors import JobCancelled, QueueFull

_log = logging.getLogger(__name__)

__all__ = ["InProcessPool", "JobContext", "Work", "WorkerPool"]

ABANDON_GRACE_S = 5.0


@dataclass
class JobContext:
    """Handed to a running job: it calls :meth:`check` between steps."""

    job_id: str
    deadline: float  # time.monotonic() value
    cancelled: threading.Event = field(default_factory=threading.Event)
    reason: str = "cancelled"
    abandoned: bool = False

    def cancel(self, reason: str = "cancelled") -> None:
        self.reason = reason
        self.cancelled.set()

    def check(self) -> None:
        if self.cancelled.is_set():
            raise JobCancelled(self.reason)
        if time.monotonic() > self.deadline:
            self.cancel("deadline exceeded")
            raise JobCancelled(self.reason)


Work = Callable[[JobContext], None]


class WorkerPool(abc.ABC):
    """Runs submitted jobs; bounded, cancellable, with per-job deadlines."""

    kind: str = "pool"

    @abc.abstractmethod
    def submit(self, job_id: str, work: Work, deadline_s: float) -> None:
        """Queue ``work``; raise :class:`QueueFull` at once when there is no free slot."""

    @abc.abstractmethod
    def cancel(self, job_id: str, reason: str = "cancelled") -> bool:
        """Cancel a queued or running job; True if it was known here."""

    @property
    @abc.abstractmethod
    def queued(self) -> int: ...

    @property
    @abc.abstractmethod
    def running(self) -> int: ...

    @property
    @abc.abstractmethod
    def queue_size(self) -> int: ...

    @property
    def saturated(self) -> bool:
        return self.queued >= self.queue_size

    @abc.abstractmethod
    def shutdown(self, wait: bool = True) -> None: ...


class InProcessPool(WorkerPool):
    """``workers`` threads sharing the loaded backends; at most ``queue_size`` jobs waiting."""

    kind = "inprocess"

    def __init__(
        self,
        workers: int = 1,
        queue_size: int = 8,
        on_abandon: Callable[[str, str], None] | None = None,
    ) -> None:
        if workers < 1 or queue_size < 1:
            raise ValueError("workers and queue_size must be at least 1")
        self._workers = workers
        self._queue_size = queue_size
        self._pending: collections.OrderedDict[str, tuple[Work, JobContext]] = collections.OrderedDict()
        self._running: dict[str, JobContext] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._mean_job_s = 5.0
        self._on_abandon = on_abandon or (lambda job_id, reason: None)
        self._threads: list[threading.Thread] = []
        for _ in range(workers):
            self._spawn()
        self._watchdog = threading.Thread(target=self._watch, name="promptloop-watchdog", daemon=True)
        self._watchdog.start()

    def set_abandon_hook(self, on_abandon: Callable[[str, str], None]) -> None:
        """Who to tell when a hung job is abandoned (the service marks it failed)."""
        self._on_abandon = on_abandon

    # -- interface -------------------------------------------------------------------------------
    def submit(self, job_id: str, work: Work, deadline_s: float) -> None:
        with self._cond:
            if self._closed:
                raise QueueFull("the server is shutting down", retry_after=5)
            if len(self._pending) >= self._queue_size:
                raise QueueFull(
                    f"the generation queue is full ({self._queue_size} waiting)",
                    retry_after=self.retry_after(),
                )
            ctx = JobContext(job_id, time.monotonic() + deadline_s)
            self._pending[job_id] = (work, ctx)
            self._cond.notify()

    def cancel(self, job_id: str, reason: str = "cancelled") -> bool:
        with self._cond:
            item = self._pending.pop(job_id, None)
            if item is not None:
                item[1].cancel(reason)
                return True
            ctx = self._running.get(job_id)
            if ctx is not None:
                ctx.cancel(reason)
                return True
        return False

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job waits or runs (its worker has finished with it); False on timeout.
        A job's row may say it ended a moment before its worker lets go of it."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._running, timeout)

    def is_pending(self, job_id: str) -> bool:
        with self._cond:
            return job_id in self._pending

    @property
    def queued(self) -> int:
        return len(self._pending)

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def queue_size(self) -> int:
        return self._queue_size

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the waiting work spread over the workers."""
        waiting = len(self._pending) + len(self._running)
        return max(1, min(600, int(round(self._mean_job_s * waiting / self._workers))))

    def shutdown(self, wait: bool = True) -> None:
        with self._cond:
            self._closed = True
            for _work, ctx in self._pending.values():
                ctx.cancel("server shutting down")
            self._pending.clear()
            for ctx in self._running.values():
                ctx.cancel("server shutting down")
            self._cond.notify_all()
        if wait:
            for thread in list(self._threads):
                thread.join(timeout=10)

    # -- threads ---------------------------------------------------------------------------------
    def _spawn(self) -> None:
        thread = threading.Thread(target=self._serve, name=f"promptloop-worker-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _serve(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job_id, (work, ctx) = self._pending.popitem(last=False)
                self._running[job_id] = ctx
            started = time.monotonic()
            try:
                work(ctx)
            except Exception as exc:  # noqa: BLE001 - a job's own handling failed; the worker must outlive it
                # An exception that escaped the job's handlers ended this thread, and with it (one
                # worker) the pool: every later job waited in the queue for ever.  The job is
                # reported failed the way an abandoned one is.
                _log.exception("job %s raised past its own error handling", job_id)
                try:
                    self._on_abandon(job_id, f"{type(exc).__name__}: {exc}"[:500])
                except Exception:  # noqa: BLE001
                    _log.exception("job %s could not be marked failed", job_id)
            finally:
                with self._cond:
                    if self._running.get(job_id) is ctx:
                        del self._running[job_id]
                    elapsed = time.monotonic() - started
                    self._mean_job_s = 0.8 * self._mean_job_s + 0.2 * elapsed
                    self._cond.notify_all()  # wait_idle() and idle workers look again
                    if ctx.abandoned:  # a replacement thread took over; this one retires
                        self._threads.remove(threading.current_thread())
                        return  # noqa: B012  (the job's errors were handled inside work(); nothing to lose)

    def _watch(self) -> None:
        while True:
            time.sleep(0.5)
            abandoned: list[JobContext] = []
            with self._cond:
                if self._closed:
                    return
                late = time.monotonic() - ABANDON_GRACE_S
                for job_id, ctx in list(self._running.items()):
                    if ctx.deadline < late:
                        ctx.abandoned = True
                        ctx.cancel("deadline exceeded (the backend did not return)")
                        del self._running[job_id]
                        abandoned.append(ctx)
                        self._spawn()
            for ctx in abandoned:
                self._on_abandon(ctx.job_id, ctx.reason)
