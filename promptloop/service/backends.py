"""Loaded backends, one set per (generator, planner, evaluator) names, shared by every session."""

from __future__ import annotations

import threading
from collections.abc import Callable

from promptloop.acquisition.affect import Affect
from promptloop.service.context import ServiceContext
from promptloop.session.loop import LoopSession, SessionSpec
from promptloop.wiring.builders import Backends, build_backends

__all__ = ["BackendCache", "BackendFactory"]

BackendFactory = Callable[[str | None, str | None, str | None], Backends]


class BackendCache:
    """Builds each set of backends once; :meth:`warm_up` loads the default set before any listener."""

    def __init__(self, ctx: ServiceContext, factory: BackendFactory | None = None) -> None:
        self.ctx = ctx
        self.factory: BackendFactory = factory or (
            lambda g, p, e: build_backends(ctx.settings, generator=g, planner=p, evaluator=e)
        )
        self._built: dict[tuple[str, str, str], Backends] = {}
        self._lock = threading.Lock()
        self.ready = False
        self.ready_detail = "backends not loaded yet"

    def get(self, generator: str | None, planner: str | None, evaluator: str | None) -> Backends:
        s = self.ctx.settings
        key = (generator or s.generator, planner or s.planner, evaluator or s.evaluator)
        with self._lock:
            if key not in self._built:
                backends = self.factory(*key)
                if backends.generator.batches_across_sessions and self.ctx.config.workers > 1:
                    # Continuous batching: segments of different sessions that are ready at the
                    # same time share one batched decode.
                    from promptloop.synthesis.batching import BatchingGenerator

                    backends.generator = BatchingGenerator(backends.generator)
                self._built[key] = backends
            return self._built[key]

    def warm_up(self) -> None:
        """Load the default backends and run them once (lazy model loads happen here, not in the
        first listener's session).  ``ready`` turns true when done."""
        try:
            backends = self.get(None, None, None)
            spec = SessionSpec(start=Affect(0.0, 0.0), target=Affect(0.0, 0.0), segments=1,
                               segment_seconds=2.0, candidates=1, max_retries=0, crossfade_seconds=0.0)
            LoopSession(spec, backends.generator, backends.planner, backends.evaluator,
                        fallback_planner=backends.fallback_planner).next_segment()
            backends.evaluator.warm_up()
            self.ready, self.ready_detail = True, "ok"
        except Exception as exc:  # reported by /readyz, not raised: the process stays up
            self.ready, self.ready_detail = False, f"backends failed to load: {type(exc).__name__}: {exc}"
