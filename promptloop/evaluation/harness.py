"""Running a suite: every scenario × seed × condition, one session each, measured by
:mod:`promptloop.evaluation.metrics`, with the digital twin listening to every session.

Runs are deterministic for a suite, its seeds and the backends: only the wall-clock timings differ
between re-runs (they are kept apart, under ``timing``).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from promptloop.acquisition.affect import Affect
from promptloop.evaluation.conditions import Condition, StaticPlanner
from promptloop.evaluation.metrics import (
    Cues,
    constraint_violations,
    diversity,
    literature_check,
    measure_cues,
    seam_quality,
    trajectory_error,
)
from promptloop.evaluation.scenarios import Scenario, Suite
from promptloop.evaluation.twin import DigitalTwin
from promptloop.feedback.base import Evaluator, Planner
from promptloop.feedback.evaluators.clap import ClapMetric
from promptloop.representation.trajectory import iso_trajectory
from promptloop.session.loop import LoopSession, SessionSpec
from promptloop.synthesis.base import Generator

__all__ = ["HarnessBackends", "run_scenario", "session_seed"]

#: Session-level metrics, in report order; ``higher`` says which direction is better.
SESSION_METRICS: dict[str, dict[str, Any]] = {
    "independent": {"label": "independent check vs iso path (0–1)", "higher": True},
    "independent_final": {"label": "independent check, final segment vs target (0–1)", "higher": True},
    "loop_score": {"label": "loop's own score (0–1)", "higher": True},
    "trajectory_error": {"label": "trajectory error vs iso path (circumplex units)", "higher": False},
    "violations": {"label": "constraint violations per session", "higher": False},
    "seam_clicks": {"label": "clicks at seams per session", "higher": False},
    "seam_jump_db": {"label": "level jump at seams (dB)", "higher": False},
    "diversity": {"label": "timbre diversity between segments", "higher": None},
    "retries": {"label": "retries per session", "higher": None},
    "retries_skipped": {"label": "retries skipped by the seed-only gate per session", "higher": None},
    "twin_distance_final": {"label": "twin's final distance to target", "higher": False},
    "twin_hr_change": {"label": "twin's heart-rate change (BPM)", "higher": None},
    "clap_similarity": {"label": "CLAP similarity to the reference affect's caption", "higher": True},
    "intended_tempo_error": {"label": "tempo off the first draft's intent (BPM, independent estimate)", "higher": False},
    "intended_mode": {"label": "mode as the first draft intended (fraction of segments)", "higher": True},
}
CUE_METRICS = ("independent_tempo", "independent_loudness", "independent_centroid", "independent_mode")


@dataclass
class HarnessBackends:
    """Ready backends: one generator and evaluator for all runs, planners by registry name."""

    generator: Generator
    evaluator: Evaluator
    planners: dict[str, Planner]
    fallback_planner: Planner
    clap: ClapMetric | None = None  # optional CLAP similarity / FAD
    _imperfect: Generator | None = None

    def generator_for(self, condition: Condition) -> Generator:
        """The generator as the condition runs it (wrapped in the adherence-error model or not)."""
        if not condition.imperfect:
            return self.generator
        if self._imperfect is None:
            from promptloop.evaluation.imperfect import ImperfectGenerator

            self._imperfect = ImperfectGenerator(self.generator)
        return self._imperfect


def session_seed(scenario_id: str, seed: int) -> int:
    """A distinct, stable session seed per (scenario, seed) — shared by every condition."""
    return zlib.crc32(f"{scenario_id}:{seed}".encode()) ^ (seed * 0x9E3779B1 & 0xFFFFFFFF)


def intended_match(cues: Cues, plan: dict[str, Any]) -> dict[str, float]:
    """How close the rendered music came to what the segment's first draft asked for: the absolute
    tempo error (the nearer of the measured tempo and its half/double, so an octave slip of the
    estimator is not charged to the generator) and whether the mode came out as asked."""
    asked = float(plan["tempo_bpm"])
    measured = [m for m in (cues.tempo_bpm, cues.tempo_bpm / 2, cues.tempo_bpm * 2) if m > 0] or [0.0]
    return {"tempo_error_bpm": round(min(abs(m - asked) for m in measured), 3),
            "mode": 1.0 if cues.mode == plan["mode"] else 0.0}


def _affect(a: Any) -> Affect:
    return Affect(a.valence, a.arousal)


def run_scenario(
    suite: Suite,
    scenario: Scenario,
    seed: int,
    condition: Condition,
    backends: HarnessBackends,
    settings: dict[str, Any],
    on_segment: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run one session and measure it; returns a JSON-ready dict."""
    chosen = condition.session_settings(settings)
    prefs = scenario.preferences()
    start, target = scenario.start_affect, scenario.target_affect
    spec = SessionSpec(
        start=start, target=target, preferences=prefs,
        segments=chosen["segments"], segment_seconds=chosen["segment_seconds"],
        seed=session_seed(scenario.id, seed), candidates=chosen["candidates"],
        threshold=chosen["threshold"], max_retries=chosen["max_retries"],
        max_step=chosen["max_step"], crossfade_seconds=chosen["crossfade_seconds"],
        skip_seed_only_retries=condition.retry_gate,
    )
    planner = backends.planners[condition.planner]
    if condition.static:
        planner = StaticPlanner(planner)
    session = LoopSession(spec, backends.generator_for(condition), planner, backends.evaluator,
                          fallback_planner=backends.fallback_planner, pacer=condition.make_pacer())
    sr = session.sample_rate
    twin = DigitalTwin.create(start, session_seed(scenario.id, seed) ^ 0x5A5A)
    reference = iso_trajectory(start, target, spec.segments)
    segments: list[dict[str, Any]] = []
    seconds: list[float] = []
    all_cues: list[Any] = []
    hr_start = twin.heart_rate()
    for index in range(spec.segments):
        if index > 0:
            sensed = twin.sensed_affect()  # read in every condition so the twin's noise is paired
            if condition.closed_loop:
                session.update_listener(sensed, "twin")
        t0 = time.perf_counter()
        result = session.next_segment()
        seconds.append(time.perf_counter() - t0)
        rec = result.record
        cues = measure_cues(result.audio, sr)
        all_cues.append(cues)
        twin.listen(cues, spec.segment_seconds)
        chosen_prompts = [a.prompt for a in rec.attempts]
        segments.append({
            "index": index,
            "reference": reference[index].to_dict(),
            "waypoint": rec.waypoint.model_dump(),
            "estimated": rec.estimated.model_dump(),
            "loop_score": rec.score,
            "intended": intended_match(cues, rec.attempts[0].plan),
            "attempt_scores": [a.candidates[a.best].score for a in rec.attempts],
            "prompt": rec.prompt,
            "cues": cues.to_dict(),
            "independent": literature_check(cues, reference[index], prefs.loudness_ceiling_lufs),
            "independent_target": literature_check(cues, target, prefs.loudness_ceiling_lufs),
            "violations": constraint_violations(cues, prefs, chosen_prompts),
            "twin": twin.history[-1],
        })
        if backends.clap is not None:
            segments[-1].update(backends.clap.segment(result.audio, sr, reference[index], condition.name))
        if on_segment is not None:
            on_segment()
    record = session.record()
    seam_starts = [s.start_s for s in record.segments[1:]]
    sources = [(r.record.start_s, r.audio) for r in session.results]
    seams = seam_quality(session.final_audio(), sr, seam_starts, spec.crossfade_seconds, sources=sources)
    estimated = [_affect(s.estimated) for s in record.segments]
    metrics = {
        "independent": float(np.mean([s["independent"]["overall"] for s in segments])),
        "independent_final": segments[-1]["independent_target"]["overall"],
        "loop_score": float(np.mean([s["loop_score"] for s in segments])),
        "trajectory_error": trajectory_error(reference, estimated),
        "violations": sum(len(s["violations"]) for s in segments),
        "seam_clicks": sum(s.clicks for s in seams),
        "seam_jump_db": float(np.mean([s.level_jump_db for s in seams])) if seams else 0.0,
        "diversity": diversity([r.audio for r in session.results], sr),
        "retries": sum(len(s.attempts) - 1 for s in record.segments),
        "retries_skipped": session.retries_skipped,
        "twin_distance_final": twin.state.distance(target),
        "twin_hr_change": twin.heart_rate() - hr_start,
    }
    metrics["intended_tempo_error"] = float(np.mean([s["intended"]["tempo_error_bpm"] for s in segments]))
    metrics["intended_mode"] = float(np.mean([s["intended"]["mode"] for s in segments]))
    if backends.clap is not None:
        metrics["clap_similarity"] = float(np.mean([s["clap_similarity"] for s in segments]))
    for cue, key in zip(CUE_METRICS, ("tempo_bpm", "loudness_lufs", "centroid_hz", "mode"), strict=True):
        metrics[cue] = float(np.mean([s["independent"][key] for s in segments]))
    return {
        "scenario": scenario.id,
        "seed": seed,
        "condition": condition.name,
        "start_quadrant": scenario.start_quadrant,
        "target_quadrant": scenario.target_quadrant,
        "tags": scenario.tags(),
        "start": start.to_dict(),
        "target": target.to_dict(),
        "settings": chosen,
        "metrics": {k: round(float(v), 4) for k, v in metrics.items()},
        "segments": segments,
        "seams": [s.__dict__ for s in seams],
        "violation_kinds": sorted({v for s in segments for v in s["violations"]}),
        "twin": {"params": twin.params.__dict__, "history": twin.history},
        "timing": {
            "seconds_per_segment": round(float(np.mean(seconds)), 4),
            "generate_seconds": record.summary.generate_seconds if record.summary else 0.0,
            "evaluate_seconds": record.summary.evaluate_seconds if record.summary else 0.0,
        },
    }
