"""Benchmark of the embedded default on this machine.

Prints the real-time factor (audio seconds per wall second) of the synth alone, of the evaluator
alone, and the wall time of the README's 6 × 10 s session after start-up (model and JIT warm-up are
done first and reported separately).  Targets (issue 2): session under 15 s, synth ≥ 50× real time.

    .venv/bin/python eval/bench_embedded.py [--segments 6] [--segment-seconds 10] [--candidates 2]
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
    args = parser.parse_args()

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
                     tempo_bpm=70)
    secs = args.segment_seconds
    gen_times, eval_times = [], []
    context = PlanContext(0, 1, secs, parse_affect("calm"), parse_affect("calm"), parse_affect("calm"), prefs)
    for r in range(args.repeats):
        t = time.perf_counter()
        (audio,) = backends.generator.generate([GenerationRequest(plan, secs, seed=r)])
        gen_times.append(time.perf_counter() - t)
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
    print(f"synth alone:     {secs / np.median(gen_times):7.1f}x real time (median of {args.repeats}, {secs:.0f} s clips)   target >= 50x")
    print(f"evaluator alone: {secs / np.median(eval_times):7.1f}x real time (median of {args.repeats})")
    print(f"session {args.segments} x {secs:.0f} s, K={args.candidates}: {session_wall:.2f} s wall "
          f"({audio_s / session_wall:.1f}x real time; generation {summary.generate_seconds:.2f} s, "
          f"evaluation {summary.evaluate_seconds:.2f} s, retries {summary.retries})   target < 15 s")
    print(f"ratio target/measured: session {15.0 / session_wall:.2f}, synth {(secs / np.median(gen_times)) / 50:.2f} (>= 1 meets)")


if __name__ == "__main__":
    main()
