"""Generation on Ray actors: ``promptloop serve --workers ray``.

Each actor loads one generator once (GPU-aware: a MusicGen actor asks Ray for a GPU when the
cluster has one) and serves ``generate`` calls.  The service keeps the rest of the loop here: the
planner and the evaluator are light, and the session state, the database and the files stay in one
place.  The service sees the actors through the ordinary :class:`~promptloop.synthesis.base.Generator`
interface (:class:`RayGenerator`), so jobs, the bounded queue, cancel and deadlines work exactly as
with the in-process pool: :class:`RayPool` is that pool, with one orchestrating thread per actor.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from promptloop.errors import GenerationError
from promptloop.service.workers import InProcessPool
from promptloop.synthesis.base import GenerationRequest, Generator
from promptloop.wiring.builders import Backends
from promptloop.wiring.ray_cluster import RayCluster
from promptloop.wiring.registry import EVALUATORS, PLANNERS
from promptloop.wiring.settings import Settings

__all__ = ["RayGenerator", "RayPool"]


class _GeneratorActor:
    """Lives in a Ray worker process: one loaded generator."""

    def __init__(self, name: str, options: dict[str, Any], settings: Settings) -> None:
        from promptloop.wiring.registry import GENERATORS

        self.generator = GENERATORS.create(name, settings, **options)

    def info(self) -> dict[str, Any]:
        import ray

        g = self.generator
        return {"sample_rate": g.sample_rate, "prior_seconds": g.prior_seconds, "describe": g.describe(),
                "pid": os.getpid(), "node": ray.get_runtime_context().get_node_id()}

    def generate(self, requests: list[GenerationRequest]) -> list[np.ndarray]:
        return self.generator.generate(requests)


class RayGenerator(Generator):
    """A generator whose calls run on Ray actors (round robin)."""

    def __init__(self, ray: Any, name: str, actors: list[Any]) -> None:
        self._ray = ray
        self._actors = actors
        self._turn = itertools.cycle(range(len(actors)))
        self._lock = threading.Lock()
        info = ray.get(actors[0].info.remote())
        self.name = name
        self.sample_rate = int(info["sample_rate"])
        self.prior_seconds = float(info["prior_seconds"])
        self._describe = {**info["describe"], "workers": "ray",
                          "actor_pids": [ray.get(a.info.remote())["pid"] for a in actors]}

    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        with self._lock:
            actor = self._actors[next(self._turn)]
        try:
            return list(self._ray.get(actor.generate.remote(list(requests))))
        except self._ray.exceptions.RayError as exc:
            raise GenerationError(f"Ray worker failed: {type(exc).__name__}") from exc

    def describe(self) -> dict[str, Any]:
        return dict(self._describe)


class RayPool(InProcessPool):
    """The bounded in-process job pool, with generation on ``workers`` Ray actors per generator."""

    kind = "ray"

    def __init__(self, workers: int = 1, queue_size: int = 8, *, address: str | None = None,
                 on_abandon: Callable[[str, str], None] | None = None) -> None:
        self._cluster = RayCluster(workers, address, what="--workers ray")
        self._ray = self._cluster.ray
        self._actor_count = workers
        self._generators: dict[str, RayGenerator] = {}
        self._actors: list[Any] = []
        self._build_lock = threading.Lock()
        super().__init__(workers, queue_size, on_abandon)

    def remote_generator(self, name: str, settings: Settings, options: dict[str, Any] | None = None) -> RayGenerator:
        with self._build_lock:
            if name not in self._generators:
                ray = self._ray
                actors = self._cluster.actors(_GeneratorActor, self._actor_count, self._cluster.gpus_for(name),
                                              name, options or {}, settings)
                self._actors += actors
                self._generators[name] = RayGenerator(ray, name, actors)
            return self._generators[name]

    def backend_factory(self, settings: Settings) -> Callable[[str, str, str], Backends]:
        """Planner and evaluator built here; the generator lives on the actors."""

        def make(generator: str, planner: str, evaluator: str) -> Backends:
            return Backends(self.remote_generator(generator, settings), PLANNERS.create(planner, settings),
                            EVALUATORS.create(evaluator, settings), PLANNERS.create("rule", settings))

        return make

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)
        self._cluster.close(self._actors)
