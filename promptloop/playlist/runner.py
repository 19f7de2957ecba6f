"""Run a playlist spec: plan the arc, make the tracks on an engine, keep them varied, write them
with their manifest, M3U8 playlists and report.

The output folder::

    OUT/manifest.json            what is finished: per track its file, SHA-256, seed, attempt, worker
    OUT/report.json, report.md   per-track scores, prompts, planned-vs-measured arc, variety
    OUT/<listener>/01.flac       the tracks (tagged), 01.json their session records
    OUT/<listener>/playlist.m3u8
    OUT/<listener>/arc.png       the affect arc, planned against measured

Every file is written through a temporary file and a rename, the audio before its manifest entry,
so a run killed at any moment leaves only whole tracks; a re-run skips each track whose file
still matches the SHA-256 in the manifest and makes the rest.  The music depends only on the
spec (seeds are derived from ``seed``), so an interrupted and resumed run writes the same bytes
as an uninterrupted one, whatever the engine or the number of workers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from promptloop._version import __version__
from promptloop.audio.io import atomic_write_bytes
from promptloop.errors import InputError, StorageError
from promptloop.playlist import variety
from promptloop.playlist.engines import Engine, make_engine
from promptloop.playlist.planner import TrackPlan, plan_playlist, track_seed
from promptloop.playlist.spec import PlaylistSpec
from promptloop.playlist.worker import BackendConfig, TrackOutput, TrackTask
from promptloop.wiring.registry import Registries

__all__ = ["MANIFEST", "PlaylistResult", "resolve_backends", "run_playlist"]

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1

Progress = Callable[[dict[str, Any]], None]


@dataclass
class PlaylistResult:
    """What a run did: ``status`` is ``done`` or ``cancelled``."""

    status: str
    out_dir: Path
    made: list[str] = field(default_factory=list)  # track keys generated in this run (each render)
    skipped: list[str] = field(default_factory=list)  # finished tracks reused after hash check
    report: dict[str, Any] | None = None
    seconds: float = 0.0


def resolve_backends(spec: PlaylistSpec, settings: Any | None = None) -> BackendConfig:
    """Backend names from the spec, falling back to the installation's settings."""
    if settings is None:
        from promptloop.wiring.settings import Settings

        settings = Settings()
    b = spec.backends
    return BackendConfig(b.generator or settings.generator, b.planner or settings.planner,
                         b.evaluator or settings.evaluator, settings)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=False) + "\n").encode())


class _Manifest:
    """manifest.json: the finished tracks of one playlist job, rewritten atomically per change."""

    def __init__(self, out: Path, job: str, spec: PlaylistSpec, backends: BackendConfig) -> None:
        self.path = out / MANIFEST
        self.data: dict[str, Any] = {"manifest_version": MANIFEST_VERSION, "job": job,
                                     "spec": spec.model_dump(mode="json"), "backends": backends.to_dict(),
                                     "tracks": {}}
        if self.path.exists():
            try:
                old = json.loads(self.path.read_text())
            except (OSError, ValueError) as exc:
                raise InputError(f"{self.path} is unreadable; remove it to start the playlist again") from exc
            if old.get("job") != job:
                raise InputError(
                    f"output folder {out} holds a different playlist (its spec or backends differ); "
                    "use a new folder or remove it"
                )
            self.data["tracks"] = dict(old.get("tracks", {}))

    @property
    def tracks(self) -> dict[str, dict[str, Any]]:
        tracks: dict[str, dict[str, Any]] = self.data["tracks"]
        return tracks

    def save(self) -> None:
        _write_json(self.path, self.data)


def _remove_leftovers(out: Path) -> None:
    """Temporary files of a killed run (``.NAME.xxxx.part``) are never tracks; remove them."""
    for leftover in out.rglob(".*.part"):
        leftover.unlink(missing_ok=True)


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise InputError(f"output folder {out} is not empty and holds no playlist manifest; use a new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {out}: {exc.strerror or exc}") from exc


def _task(spec: PlaylistSpec, plan: TrackPlan, attempt: int, preferences: dict[str, Any]) -> TrackTask:
    return TrackTask(
        key=plan.key,
        attempt=attempt,
        seed=track_seed(spec.seed, plan.listener, plan.index, attempt),
        start=plan.start.to_dict(),
        end=plan.end.to_dict(),
        preferences=preferences,
        session={
            "segments": spec.segments_per_track,
            "segment_seconds": spec.segment_seconds,
            "candidates": spec.backends.candidates,
            "threshold": spec.backends.threshold,
            "max_retries": spec.backends.max_retries,
            "max_step": spec.backends.max_step,
            "crossfade_seconds": spec.crossfade_seconds,
        },
        format=spec.format,
        tags={
            "title": plan.title,
            "album": f"{spec.name} ({plan.listener})",
            "artist": "promptloop",
            "tracknumber": f"{plan.index + 1}/{spec.tracks}",
            "software": f"promptloop {__version__}",
        },
    )


def _decode(data: bytes) -> tuple[np.ndarray, int]:
    import soundfile as sf

    audio, rate = sf.read(io.BytesIO(data), dtype="float32")
    return audio, int(rate)


def run_playlist(
    spec: PlaylistSpec,
    out_dir: str | Path,
    engine: str | Engine = "local",
    *,
    workers: int = 2,
    address: str | None = None,
    settings: Any | None = None,
    on_progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    registries: Registries | None = None,
) -> PlaylistResult:
    """Make (or finish making) every track of ``spec`` under ``out_dir``.

    ``engine`` is ``"local"``, ``"ray"``, ``"serial"`` or a ready :class:`Engine`.  ``on_progress``
    receives small event dicts (``planned``, ``track_skipped``, ``segment_done``, ``track_done``,
    ``variety_retry``, ``done``); ``cancel`` is polled and, once true, the run stops after writing
    the tracks already finished and returns with ``status="cancelled"``.  ``registries`` (in-process
    engines only) replaces the global backend tables, as tests do with their fakes.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    emit = on_progress or (lambda event: None)
    cancelled = cancel or (lambda: False)
    backends = resolve_backends(spec, settings)
    if registries is not None:
        backends = dataclasses.replace(backends, registries=registries)
    chosen = _open_engine(engine, backends, workers, address, spec)  # refuses a bad name before writing
    _prepare_out(out)
    manifest = _Manifest(out, spec.fingerprint(backends.to_dict()), spec, backends)
    manifest.save()  # before any track, so a folder killed early is still recognised as this job's
    _remove_leftovers(out)
    plans = plan_playlist(spec)
    prefs = {listener.id: listener.to_preferences().to_dict() for listener in spec.listeners}
    by_key = {p.key: p for tracks in plans.values() for p in tracks}
    result = PlaylistResult(status="done", out_dir=out)

    # Reuse finished tracks whose files still match their hashes.
    attempts: dict[str, int] = {}
    features: dict[str, Any] = {}
    for key in by_key:
        entry = manifest.tracks.get(key)
        if entry is None:
            attempts[key] = 0
            continue
        attempts[key] = int(entry["attempt"])
        path = out / entry["file"]
        data = path.read_bytes() if path.is_file() else b""
        if data and _sha256(data) == entry["sha256"] and (out / entry["record"]).is_file():
            features[key] = variety.features(*_decode(data))
            result.skipped.append(key)
            emit({"kind": "track_skipped", "key": key})
        else:
            del manifest.tracks[key]
    emit({"kind": "planned", "tracks": len(by_key), "skipped": len(result.skipped),
          "segments_per_track": spec.segments_per_track})

    def write(output: TrackOutput) -> None:
        plan = by_key[output.key]
        stem = plan.file_stem()
        audio_name, record_name = f"{stem}.{spec.format}", f"{stem}.json"
        _write_json(out / record_name, output.record)
        atomic_write_bytes(out / audio_name, output.data)
        manifest.tracks[output.key] = {
            "file": audio_name, "record": record_name, "sha256": _sha256(output.data),
            "seed": output.seed, "attempt": output.attempt, "worker": output.worker,
            "seconds": output.seconds,
        }
        manifest.save()
        features[output.key] = variety.features(*_decode(output.data))
        result.made.append(output.key)
        emit({"kind": "track_done", "key": output.key, "attempt": output.attempt,
              "score": output.record["summary"]["mean_score"], "worker": output.worker})

    decisions: dict[str, dict[str, Any]] = {}
    measured: dict[tuple[str, int, str, int], float] = {}  # distances already measured, per render pair
    engine_info: dict[str, Any]
    with chosen as running:
        engine_info = running.describe()
        todo = [key for key in by_key if key not in manifest.tracks]
        while True:
            if todo:
                tasks = [_task(spec, by_key[k], attempts[k], prefs[by_key[k].listener]) for k in todo]
                if not cancelled():
                    for output in running.run(tasks, emit, cancelled):
                        write(output)
                unfinished = [k for k in todo if manifest.tracks.get(k, {}).get("attempt") != attempts[k]]
                if unfinished:  # only a cancelled run leaves tasks unfinished
                    result.status = "cancelled"
                    break
            todo = _check_variety(spec, plans, features, attempts, decisions, emit, measured)
            if not todo:
                break
    if result.status == "done":
        from promptloop.playlist.outputs import write_outputs

        result.report = write_outputs(spec, out, plans, manifest.tracks, decisions, backends, engine_info)
    result.seconds = round(time.perf_counter() - t0, 3)
    emit({"kind": "done", "status": result.status, "made": len(result.made), "skipped": len(result.skipped)})
    return result


def _open_engine(engine: str | Engine, backends: BackendConfig, workers: int, address: str | None,
                 spec: PlaylistSpec) -> Engine:
    if isinstance(engine, Engine):
        return engine
    return make_engine(engine, backends, workers, address=address, gpus_per_worker=spec.backends.gpus_per_worker)


def _check_variety(spec: PlaylistSpec, plans: dict[str, list[TrackPlan]], features: dict[str, Any],
                   attempts: dict[str, int], decisions: dict[str, dict[str, Any]], emit: Progress,
                   measured: dict[tuple[str, int, str, int], float]) -> list[str]:
    """Accept tracks in order while each is far enough from every earlier one; the first that is
    not is re-rendered with its next seed (the ones after it wait for it).  Returns keys to redo."""
    redo: list[str] = []
    for tracks in plans.values():
        accepted: list[TrackPlan] = []
        for plan in tracks:
            distances = {}
            for other in accepted:
                pair = (plan.key, attempts[plan.key], other.key, attempts[other.key])
                if pair not in measured:
                    measured[pair] = variety.distance(features[plan.key], features[other.key])
                distances[other.key] = measured[pair]
            nearest = min(distances.items(), key=lambda kv: kv[1]) if distances else None
            too_close = nearest is not None and nearest[1] < spec.variety.min_distance
            if too_close and attempts[plan.key] + 1 < spec.variety.max_attempts:
                assert nearest is not None
                attempts[plan.key] += 1
                redo.append(plan.key)
                emit({"kind": "variety_retry", "key": plan.key, "attempt": attempts[plan.key],
                      "nearest": nearest[0], "distance": nearest[1]})
                break
            decisions[plan.key] = {
                "nearest": nearest[0] if nearest else None,
                "distance": nearest[1] if nearest else None,
                "distances": distances,
                "met": not too_close,
                "attempts": attempts[plan.key] + 1,
            }
            accepted.append(plan)
    return redo
