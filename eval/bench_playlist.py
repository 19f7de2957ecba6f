"""Tracks per minute of the playlist engines on this machine: local and Ray, 1 and 2 workers.

Each configuration starts its engine once, makes a warm-up playlist (one track per worker, so
every worker has loaded its backends and compiled its analysis code), then times a playlist of
``--tracks`` tracks.  Start-up is reported apart: it is paid once per run, not per track.

    .venv/bin/python eval/bench_playlist.py --tracks 8
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from promptloop.playlist import parse_spec, run_playlist
from promptloop.playlist.engines import make_engine
from promptloop.playlist.runner import resolve_backends


def _spec(tracks: int, seed: int, seconds: float, segments: int) -> dict:
    return {
        "name": "bench", "seed": seed, "tracks": tracks, "track_seconds": seconds,
        "segments_per_track": segments, "arc": "iso", "start": "anxious", "target": "calm",
        "backends": {"candidates": 2, "max_retries": 1},
        "listeners": [{"id": "bench", "preferences": {"prefer": ["piano", "soft pads"]}}],
    }


def measure(engine_name: str, workers: int, tracks: int, seconds: float, segments: int) -> dict:
    bench = parse_spec(_spec(tracks, 1, seconds, segments))
    warm = parse_spec(_spec(workers, 999, seconds, segments))
    t0 = time.perf_counter()
    engine = make_engine(engine_name, resolve_backends(bench), workers)
    with engine, tempfile.TemporaryDirectory() as tmp:
        run_playlist(warm, Path(tmp) / "warm", engine)
        startup = time.perf_counter() - t0
        t1 = time.perf_counter()
        result = run_playlist(bench, Path(tmp) / "bench", engine)
        elapsed = time.perf_counter() - t1
    assert result.status == "done" and len(result.made) == tracks
    pids = sorted({e["worker"]["pid"] for e in result.report["listeners"][0]["tracks"]})  # type: ignore[index]
    return {"engine": engine_name, "workers": workers, "tracks": tracks, "seconds": round(elapsed, 2),
            "tracks_per_minute": round(tracks / elapsed * 60, 2), "startup_and_warmup_s": round(startup, 2),
            "worker_processes_used": len(pids)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument("--track-seconds", type=float, default=15.0)
    parser.add_argument("--segments", type=int, default=3)
    parser.add_argument("--engines", default="local,ray")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    rows = [measure(e, w, args.tracks, args.track_seconds, args.segments)
            for e in args.engines.split(",") for w in (1, 2)]
    print(f"{args.tracks} tracks x {args.segments} segments x {args.track_seconds / args.segments:g} s, "
          f"synth/rule/embedding, K=2, 1 retry; {platform.node()} ({platform.machine()})")
    print(f"{'engine':8}{'workers':>8}{'seconds':>10}{'tracks/min':>12}{'start+warm s':>14}")
    for r in rows:
        print(f"{r['engine']:8}{r['workers']:>8}{r['seconds']:>10.1f}{r['tracks_per_minute']:>12.1f}"
              f"{r['startup_and_warmup_s']:>14.1f}")
    by = {(r["engine"], r["workers"]): r["tracks_per_minute"] for r in rows}
    for e in args.engines.split(","):
        print(f"scaling {e}: 2 workers / 1 worker = {by[(e, 2)] / by[(e, 1)]:.2f}x")
    if ("local", 2) in by and ("ray", 2) in by:
        print(f"ray / local at 2 workers = {by[('ray', 2)] / by[('local', 2)]:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
