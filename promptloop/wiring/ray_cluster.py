"""The one Ray integration: joining (or starting) a cluster, placing actors on GPUs, leaving it.

Batch playlists (:class:`promptloop.playlist.engines.RayEngine`) and the server's worker pool
(:class:`promptloop.service.ray_pool.RayPool`) both run their actors through :class:`RayCluster`.
"""

from __future__ import annotations

import os
from typing import Any

from promptloop.errors import BackendUnavailable

__all__ = ["GPU_GENERATORS", "RayCluster"]

#: Generators whose actors ask Ray for a GPU when the cluster has one.
GPU_GENERATORS = frozenset({"musicgen", "audiocraft"})


class RayCluster:
    """A connection to Ray: the cluster at ``address``, or a local one started for ``workers`` actors.

    ``what`` names the feature in the error shown when Ray is not installed.
    """

    def __init__(self, workers: int, address: str | None = None, *, what: str = "Ray") -> None:
        try:
            import ray
        except ImportError as exc:
            raise BackendUnavailable(f"{what} needs Ray: pip install 'promptloop[ray]'") from exc
        self.ray: Any = ray
        self.address = address
        self.owns = False
        if not ray.is_initialized():
            try:
                if address:
                    ray.init(address=address, log_to_driver=False)
                else:
                    ray.init(num_cpus=max(workers, os.cpu_count() or 1), include_dashboard=False,
                             log_to_driver=False, object_store_memory=256 * 1024**2)
            except ConnectionError as exc:
                raise BackendUnavailable(f"cannot reach a Ray cluster at {address}: {exc}") from exc
            self.owns = True

    def gpus_for(self, generator: str, override: float | None = None) -> float:
        """GPUs an actor of ``generator`` asks for: one when it uses a GPU and the cluster has one."""
        if override is not None:
            return override
        if generator in GPU_GENERATORS and self.ray.cluster_resources().get("GPU", 0) >= 1:
            return 1.0
        return 0.0

    def actors(self, cls: type, count: int, gpus: float, *args: Any) -> list[Any]:
        """``count`` actors of ``cls`` (one CPU each, never restarted: a lost actor fails its job)."""
        actor = self.ray.remote(cls).options(num_cpus=1, num_gpus=gpus, max_restarts=0)
        return [actor.remote(*args) for _ in range(count)]

    def close(self, actors: list[Any]) -> None:
        for actor in actors:
            self.ray.kill(actor)
        actors.clear()
        if self.owns:
            self.ray.shutdown()
            self.owns = False
