"""Cross-session batching for any generator: calls that arrive together become one call.

:class:`DecodeBatcher` gathers requests that arrive within a short window and runs them as one
batch; :class:`BatchingGenerator` applies it to a generator's ``generate`` calls, so that segments
of different sessions ready at the same time share one batched decode (MusicGen's fast path).
Nothing here needs torch.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

import numpy as np

from promptloop.errors import InputError
from promptloop.synthesis.base import GenerationRequest, Generator

__all__ = ["BatchingGenerator", "DecodeBatcher"]

R = TypeVar("R")
T = TypeVar("T")

_STOP = object()


class DecodeBatcher(Generic[R, T]):
    """Runs requests that arrive within ``window_s`` of each other as one batch.

    ``run_batch`` turns a list of requests into a list of results (same order); ``key`` says
    which requests may share a batch. :meth:`submit` returns a future at once; one worker thread
    collects, groups (at most ``max_batch`` per call) and resolves the futures. Example::

        batcher = DecodeBatcher(lambda reqs: run_decode_batch(decoder, reqs), key=DecodeRequest.batch_key)
        audio = batcher.submit(request).result().audio_values
    """

    def __init__(
        self,
        run_batch: Callable[[list[R]], Sequence[T]],
        *,
        window_s: float = 0.02,
        max_batch: int = 32,
        key: Callable[[R], Hashable] | None = None,
    ) -> None:
        if window_s < 0 or max_batch < 1:
            raise InputError("window_s must be >= 0 and max_batch >= 1")
        self._run_batch = run_batch
        self._window_s = window_s
        self._max_batch = max_batch
        self._key = key or (lambda _request: None)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="decode-batcher", daemon=True)
        self._thread.start()

    def submit(self, request: R) -> Future[T]:
        if self._closed:
            raise RuntimeError("the decode batcher is closed")
        future: Future[T] = Future()
        self._queue.put((request, future))
        return future

    @property
    def waiting(self) -> int:
        """Requests submitted and not yet taken into a batch (for tests and metrics)."""
        return self._queue.qsize()

    def close(self) -> None:
        """Finish what was submitted, then stop the worker."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()

    def __enter__(self) -> DecodeBatcher[R, T]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _work(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                return
            pending = [item]
            deadline = time.monotonic() + self._window_s
            while len(pending) < self._max_batch:
                remaining = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=max(remaining, 0.0)) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                pending.append(item)
            self._dispatch(pending)

    def _dispatch(self, pending: list[tuple[R, Future[T]]]) -> None:
        groups: dict[Hashable, list[tuple[R, Future[T]]]] = {}
        for request, future in pending:
            if future.set_running_or_notify_cancel():
                groups.setdefault(self._key(request), []).append((request, future))
        for group in groups.values():
            for start in range(0, len(group), self._max_batch):
                chunk = group[start : start + self._max_batch]
                try:
                    results = list(self._run_batch([request for request, _ in chunk]))
                    if len(results) != len(chunk):
                        raise RuntimeError(f"run_batch returned {len(results)} results for {len(chunk)} requests")
                except BaseException as exc:  # every waiting session must hear about the failure
                    for _, future in chunk:
                        future.set_exception(exc)
                    continue
                for (_, future), result in zip(chunk, results, strict=True):
                    future.set_result(result)


class BatchingGenerator(Generator):
    """Wraps a generator so that sessions calling ``generate`` at the same time share one call.

    Each ``generate`` call (one session's candidates for a segment) becomes one request of a
    :class:`DecodeBatcher`; calls arriving within ``window_s`` are concatenated into a single
    ``inner.generate`` (for ``musicgen``: one batched decode) and the results handed back to each
    caller. ``max_calls`` bounds how many calls are merged. Only the batcher's thread calls
    ``inner``. Sampled output then depends on which sessions shared the batch (the inner
    generator seeds one call from all its requests' seeds).
    """

    def __init__(self, inner: Generator, *, window_s: float = 0.02, max_calls: int = 8) -> None:
        self.inner = inner
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self.prior_seconds = inner.prior_seconds
        self.window_s = window_s
        self._batcher: DecodeBatcher[list[GenerationRequest], list[np.ndarray]] = DecodeBatcher(
            self._run, window_s=window_s, max_batch=max_calls
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        return self._batcher.submit(list(requests)).result()

    @property
    def waiting(self) -> int:
        """Calls waiting for the next batched call of ``inner``."""
        return self._batcher.waiting

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "cross_session_batch_window_s": self.window_s}

    def close(self) -> None:
        self._batcher.close()

    def _run(self, calls: list[list[GenerationRequest]]) -> list[list[np.ndarray]]:
        audio = self.inner.generate([request for call in calls for request in call])
        out, start = [], 0
        for call in calls:
            out.append(list(audio[start : start + len(call)]))
            start += len(call)
        return out
