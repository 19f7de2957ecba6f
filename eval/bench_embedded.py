"""Benchmark of the embedded default on this machine.

Prints the real-time factor (audio seconds per wall second) of each embedded generator alone (the
procedural synth, and the SoundFont renderer where a SoundFont is installed) on a calm and an
energized plan, of the evaluator alone, the wall time of the README's 6 × 10 s session after
start-up (model and JIT warm-up done first, reported separately), and the README's `make demo`
command run cold in a fresh process (wall from process start).  Targets (issues 2, 15): renderer
≥ 50× real time, session and cold demo ≤ 15 s.

    .venv/bin/python eval/bench_embedded.py [--segments 6] [--segment-seconds 10] [--candidates 2] [--no-demo]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=6)
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    parser.add_argument("--candidates", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-demo", action="store_true", help="skip the cold `make demo` subprocess")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")

    t0 = time.perf_counter()
    from promptloop.acquisition.affect import parse_affect
    from promptloop.feedback.base import PlanContext
    from promptloop.representation.plan import MusicPlan
    from promptloop.representation.preferences import Preferences
    from promptloop.session.loop import SessionSpec, run_session
    from promptloop.synthesis.base import GenerationRequest
    from promptloop.wiring.builders import build_backends
    from promptloop.wiring.settings import Settings

    backends = build_backends(Settings())
    prefs = Preferences.build("piano, soft pads, rain", "drums")
    warm = SessionSpec(start=parse_affect("anxious"), target=parse_affect("calm"), preferences=prefs,
                       segments=1, segment_seconds=3, seed=0)
    run_session(warm, backends.generator, backends.planner, backends.evaluator)  # JIT + model load
    startup = time.perf_counter() - t0

    plan = MusicPlan(prompt="peaceful ambient music with piano and pads over rain, 70 bpm, C major, soft",
                     tempo_bpm=70, instruments=("piano", "pads"), textures=("rain",), dynamics="p", density=0.3,
                     target_valence=0.4, target_arousal=-0.5)
    busy = MusicPlan(prompt="uplifting, energetic music with piano and bass and drums, 126 bpm, loud, busy",
                     tempo_bpm=126, instruments=("piano", "bass", "drums"), dynamics="f", density=0.85,
                     brightness=0.8, target_valence=0.5, target_arousal=0.8)
    secs = args.segment_seconds
    eval_times = []
    context = PlanContext(0, 1, secs, parse_affect("calm"), parse_affect("calm"), parse_affect("calm"), prefs)
    renderers: dict[str, dict[str, float]] = {}
    from promptloop.wiring.registry import GENERATORS

    settings = Settings()
    for name in ("synth", "soundfont"):
        if next(st for st in GENERATORS.status(settings) if st.name == name).usable:
            gen = backends.generator if name == backends.generator.name else GENERATORS.create(name, settings)
            renderers[name] = {}
            for label, p in (("calm", plan), ("energized", busy)):
                times = []
                for r in range(args.repeats):
                    t = time.perf_counter()
                    gen.generate([GenerationRequest(p, secs, seed=r, tail_s=1.0)])
                    times.append(time.perf_counter() - t)
                renderers[name][label] = secs / float(np.median(times))
    for r in range(args.repeats):
        (audio,) = backends.generator.generate([GenerationRequest(plan, secs, seed=r)])
        t = time.perf_counter()
        backends.evaluator.evaluate(audio, backends.generator.sample_rate, plan, context)
        eval_times.append(time.perf_counter() - t)

    spec = SessionSpec(start=parse_affect("anxious"), target=parse_affect("calm"), preferences=prefs,
                       segments=args.segments, segment_seconds=secs, seed=7, candidates=args.candidates)
    t = time.perf_counter()
    session = run_session(spec, backends.generator, backends.planner, backends.evaluator,
                          fallback_planner=backends.fallback_planner)
    session_wall = time.perf_counter() - t
    summary = session.record().summary
    assert summary is not None
    audio_s = args.segments * secs
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"start-up (imports, MiniLM load, librosa JIT, warm-up session): {startup:.2f} s")
    for name, speeds in renderers.items():
        print(f"{name} alone: " + ", ".join(f"{label} {x:.1f}x" for label, x in speeds.items())
              + f" real time (median of {args.repeats}, {secs:.0f} s clips)   target >= 50x")
    print(f"evaluator alone: {secs / np.median(eval_times):7.1f}x real time (median of {args.repeats})")
    print(f"session {args.segments} x {secs:.0f} s, K={args.candidates}: {session_wall:.2f} s wall "
          f"({audio_s / session_wall:.1f}x real time; generation {summary.generate_seconds:.2f} s, "
          f"evaluation {summary.evaluate_seconds:.2f} s, retries {summary.retries}, generator "
          f"{backends.generator.name})   target < 15 s")
    slowest = min(min(v.values()) for v in renderers.values()) if renderers else float("nan")
    print(f"ratio target/measured: session {15.0 / session_wall:.2f}, slowest renderer {slowest / 50:.2f} (>= 1 meets)")
    if not args.no_demo:
        _cold_demo()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def _cold_demo() -> None:
    """The README's `make demo` command in a fresh process, wall time from process start: once with
    an empty cache folder (no `make setup` before it), once after `promptloop warm-up` (what `make
    setup` runs once per install) filled that folder -- the case the target is about."""
    import subprocess
    import sys
    import tempfile

    def demo_wall(cache: str) -> float:
        command = [sys.executable, "-m", "promptloop.cli.main", "session", "--start", "anxious", "--target", "calm",
                   "--prefer", "piano, soft pads, rain", "--avoid", "drums", "--segments", "6",
                   "--segment-seconds", "10", "--seed", "7", "--out", f"{tmp}/demo", "--overwrite"]
        t = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, "XDG_CACHE_HOME": cache})
        return time.perf_counter() - t

    with tempfile.TemporaryDirectory() as tmp:
        walls = {"empty cache, no warm-up": demo_wall(f"{tmp}/cold")}
        subprocess.run([sys.executable, "-m", "promptloop.cli.main", "warm-up"], check=True, capture_output=True,
                       env={**os.environ, "XDG_CACHE_HOME": f"{tmp}/warmed"})
        walls["after `promptloop warm-up`"] = demo_wall(f"{tmp}/warmed")
    for label, wall in walls.items():
        print(f"cold `make demo` session (fresh process, {label}): {wall:.2f} s wall   target <= 15 s "
              f"(ratio {15.0 / wall:.2f})")


if __name__ == "__main__":
    main()
