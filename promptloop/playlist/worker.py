"""What runs inside a worker (a pool process or a Ray actor): make one track, return its bytes.

Backends are built once per worker process and reused for every track it makes (loading a model
per track would dominate the run).  Workers never write into the output folder: they return the
encoded audio and the session record, and the driver writes them atomically, so a worker on
another Ray node needs no shared disk.
"""

from __future__ import annotations

import io
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from promptloop.acquisition.affect import Affect
from promptloop.representation.preferences import Preferences
from promptloop.session.loop import SessionSpec, run_session
from promptloop.wiring.builders import Backends
from promptloop.wiring.registry import Registries
from promptloop.wiring.settings import Settings

__all__ = ["BackendConfig", "TrackOutput", "TrackTask", "WorkerState", "encode_audio"]


@dataclass(frozen=True)
class BackendConfig:
    """Resolved backend names: what every worker builds once."""

    generator: str
    planner: str
    evaluator: str
    #: The entry point's settings, shipped to worker processes so they never re-read the environment.
    settings: Settings | None = field(default=None, compare=False, repr=False)
    #: Backend tables for in-process engines (tests' fakes); None means the global ones.
    registries: Registries | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, str]:
        return {"generator": self.generator, "planner": self.planner, "evaluator": self.evaluator}


@dataclass(frozen=True)
class TrackTask:
    """Everything a worker needs to make one track (plain data, so it pickles anywhere)."""

    key: str
    attempt: int
    seed: int
    start: dict[str, float]
    end: dict[str, float]
    preferences: dict[str, Any]
    session: dict[str, Any]  # segments, segment_seconds, candidates, threshold, max_retries, ...
    format: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackOutput:
    key: str
    attempt: int
    seed: int
    data: bytes  # the encoded, tagged audio file
    record: dict[str, Any]  # session.json of the track
    worker: dict[str, Any]  # engine, pid, host, node; loads = backend builds in that worker
    seconds: float


def encode_audio(audio: np.ndarray, sample_rate: int, fmt: str, tags: dict[str, str]) -> bytes:
    """16-bit WAV or FLAC bytes with text tags (Vorbis comments in FLAC, LIST/INFO in WAV)."""
    import soundfile as sf

    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", sample_rate, 1, format=fmt.upper(), subtype="PCM_16") as handle:
        for name, value in tags.items():
            setattr(handle, name, value)
        handle.write(np.clip(audio, -1.0, 1.0))
    return buffer.getvalue()


Emit = Callable[[dict[str, Any]], None]


class WorkerState:
    """Backends built once for this worker, plus where progress events go."""

    def __init__(self, config: BackendConfig, engine: str, emit: Emit | None = None, node: str | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        from promptloop.wiring.builders import build_backends

        self.config = config
        self.engine = engine
        self.emit = emit or (lambda event: None)
        self.node = node or socket.gethostname()
        self.extra = extra or {}
        self.backends: Backends = build_backends(
            config.settings or Settings(), generator=config.generator, planner=config.planner,
            evaluator=config.evaluator, registries=config.registries,
        )
        self.loads = 1
        self.tracks = 0

    def make_track(self, task: TrackTask) -> TrackOutput:
        t0 = time.perf_counter()
        b = self.backends
        spec = SessionSpec(
            start=Affect(**task.start),
            target=Affect(**task.end),
            preferences=Preferences.from_dict(task.preferences),
            seed=task.seed,
            **task.session,
        )

        def on_event(kind: str, payload: dict[str, Any]) -> None:
            if kind == "segment_done":
                self.emit({"kind": "segment_done", "key": task.key, "attempt": task.attempt,
                           "index": payload["index"], "segments": spec.segments, "score": payload["score"]})

        session = run_session(spec, b.generator, b.planner, b.evaluator,
                              fallback_planner=b.fallback_planner, on_event=on_event)
        record = session.record()
        comment = " | ".join(seg.prompt for seg in record.segments)
        data = encode_audio(session.final_audio(), session.sample_rate, task.format, {**task.tags, "comment": comment})
        self.tracks += 1
        return TrackOutput(
            key=task.key,
            attempt=task.attempt,
            seed=task.seed,
            data=data,
            record=record.model_dump(mode="json"),
            worker={"engine": self.engine, "pid": os.getpid(), "node": self.node,
                    "loads": self.loads, "tracks_in_worker": self.tracks, **self.extra},
            seconds=round(time.perf_counter() - t0, 3),
        )


# -- the process-pool side: one WorkerState per pool process ---------------------------------------
_STATE: WorkerState | None = None


def limit_threads(threads: int) -> None:
    """Give this worker ``threads`` threads in torch, BLAS and OpenMP.

    Workers each running every core's worth of threads oversubscribe the machine, and OpenMP's
    spin-waiting then makes them slower together than one alone; Ray does the same for its
    workers (OMP_NUM_THREADS = the CPUs an actor asked for).
    """
    import torch
    from threadpoolctl import threadpool_limits

    os.environ["OMP_NUM_THREADS"] = str(threads)  # for libraries that start their pools later
    torch.set_num_threads(threads)
    threadpool_limits(threads)


def init_pool_worker(config: BackendConfig, events: Any, threads: int) -> None:
    """Pool initializer: limit threads, then build the backends once for this process."""
    global _STATE
    limit_threads(threads)
    _STATE = WorkerState(config, "local", emit=events.put)


def make_track_in_pool(task: TrackTask) -> TrackOutput:
    assert _STATE is not None, "init_pool_worker must run first"
    return _STATE.make_track(task)
