"""The imperfect-generator condition and the rewrite strategy it motivated."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from promptloop.acquisition.affect import Affect
from promptloop.audio.analysis import Descriptors
from promptloop.evaluation.imperfect import (
    GENRE_DEFAULTS,
    AdherenceModel,
    ImperfectGenerator,
)
from promptloop.feedback.base import Evaluation, Feedback, PlanContext
from promptloop.feedback.planners.rule import RulePlanner
from promptloop.representation.plan import tempo_for
from promptloop.representation.preferences import Preferences
from promptloop.synthesis.base import GenerationRequest, Generator


class RecordingGenerator(Generator):
    """Silence, remembering the plans it was asked for."""

    name = "recording"
    sample_rate = 8000

    def __init__(self) -> None:
        self.plans: list = []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        self.plans.extend(r.plan for r in requests)
        return [np.zeros(int(r.duration_s * self.sample_rate), dtype=np.float32) for r in requests]


def _context(valence: float, arousal: float) -> PlanContext:
    w = Affect(valence, arousal)
    return PlanContext(segment_index=1, segments=3, segment_seconds=6.0, waypoint=w, listener=w, target=w,
                       preferences=Preferences())


def test_the_model_pulls_tempo_toward_the_genre_default_and_varies_by_seed() -> None:
    plan = RulePlanner().draft(_context(0.4, -0.6))  # slow ambient
    model = AdherenceModel()
    tempi = np.array([model.realise(plan, seed).tempo_bpm for seed in range(300)])
    default = GENRE_DEFAULTS[plan.genre or ""][0]
    expected = plan.tempo_bpm + model.tempo_pull * (default - plan.tempo_bpm)
    assert abs(tempi.mean() - expected) < 1.5
    assert 3.5 < tempi.std() < 6.5
    assert model.realise(plan, 5) == model.realise(plan, 5)


def test_the_model_drops_and_adds_instruments_and_flips_modes() -> None:
    plan = RulePlanner().draft(_context(-0.5, 0.8))  # piano, bass, drums, strings
    realised = [AdherenceModel().realise(plan, seed) for seed in range(300)]
    assert np.mean([len(set(plan.instruments) - set(r.instruments)) > 0 for r in realised]) > 0.3
    assert all(r.instruments[0] == plan.instruments[0] for r in realised)
    assert 0.08 < np.mean([r.mode != plan.mode for r in realised]) < 0.25


def test_the_wrapper_renders_the_loose_plan_and_remembers_it() -> None:
    inner = RecordingGenerator()
    wrapped = ImperfectGenerator(inner)
    plan = RulePlanner().draft(_context(0.4, -0.6))
    out = wrapped.generate([GenerationRequest(plan, 1.0, seed) for seed in (1, 2)])
    assert len(out) == 2 and wrapped.sample_rate == inner.sample_rate
    assert [p.tempo_bpm for p in inner.plans] != [plan.tempo_bpm, plan.tempo_bpm]
    assert f"{inner.plans[0].tempo_bpm:.0f} bpm" in inner.plans[0].prompt
    assert wrapped.realised(2) == inner.plans[1]
    assert wrapped.describe()["inner"]["name"] == "recording"


def _evaluation(*feedback: Feedback) -> Evaluation:
    d = Descriptors(6.0, -25.0, -3.0, 80.0, 2.0, 800.0, 0.01, "C", "major", 0.2, 0, 0)
    return Evaluation(0.6, {}, d, Affect(0.0, 0.0), "", tuple(feedback))


def test_revise_corrects_a_tempo_by_the_whole_measured_error() -> None:
    ctx = _context(0.4, -0.6)
    plan = RulePlanner().draft(ctx)
    landed = plan.tempo_bpm + 9.0
    revised = RulePlanner().revise(plan, _evaluation(Feedback("tempo", "lower", landed, plan.tempo_bpm, "")), ctx)
    assert revised.tempo_bpm == tempo_for(ctx.waypoint.arousal) - 9.0


def test_revise_keeps_the_tempo_when_the_estimate_looks_like_an_octave_error() -> None:
    ctx = _context(0.4, -0.6)
    plan = RulePlanner().draft(ctx)
    revised = RulePlanner().revise(plan, _evaluation(Feedback("tempo", "lower", plan.tempo_bpm * 2, plan.tempo_bpm, "")), ctx)
    assert revised.tempo_bpm == plan.tempo_bpm


def test_revise_keeps_a_plan_that_already_matches_its_waypoint_on_a_mood_miss() -> None:
    ctx = _context(0.4, -0.6)
    plan = RulePlanner().draft(ctx)
    revised = RulePlanner().revise(plan, _evaluation(Feedback("arousal", "lower", 0.2, -0.6, ""),
                                                     Feedback("valence", "higher", -0.3, 0.4, "")), ctx)
    assert (revised.mode, revised.dynamics, revised.tempo_bpm) == (plan.mode, plan.dynamics, plan.tempo_bpm)
    assert "new candidates" in revised.rationale


def test_revise_brings_a_straying_plan_back_to_its_waypoint() -> None:
    ctx = _context(0.4, -0.6)
    plan = RulePlanner().draft(ctx).model_copy(update={"mode": "minor", "dynamics": "mf"})
    revised = RulePlanner().revise(plan, _evaluation(Feedback("arousal", "lower", 0.2, -0.6, ""),
                                                     Feedback("valence", "higher", -0.3, 0.4, "")), ctx)
    assert revised.mode == "major" and revised.dynamics == "mp"



def test_the_evaluator_reports_a_timbre_off_the_waypoints_and_revise_corrects_it() -> None:
    from dataclasses import replace

    from promptloop.feedback.descriptors_affect import expected_centroid
    from promptloop.feedback.evaluators.embedding import CENTROID_TOLERANCE_HZ, _feedback

    ctx = _context(0.6, 0.8)  # energised: music there measures bright
    plan = RulePlanner().draft(ctx)
    wanted = expected_centroid(ctx.waypoint)
    measured = _evaluation().descriptors

    def brightness_feedback(centroid: float) -> list[Feedback]:
        d = replace(measured, centroid_hz=centroid)
        silence = np.zeros(32000, dtype=np.float32)  # no pulse: only the descriptors speak
        return [f for f in _feedback(silence, 32000, d, ctx.waypoint, plan, ctx, []) if f.attribute == "brightness"]

    dull = brightness_feedback(wanted - CENTROID_TOLERANCE_HZ - 50)
    assert [f.direction for f in dull] == ["higher"]
    assert [f.direction for f in brightness_feedback(wanted + CENTROID_TOLERANCE_HZ + 50)] == ["lower"]
    assert brightness_feedback(wanted - CENTROID_TOLERANCE_HZ + 50) == []
    revised = RulePlanner().revise(plan, _evaluation(*dull), ctx)
    assert revised.brightness == round(min(0.95, plan.brightness + 0.2), 3)
    assert "brighter" in revised.rationale
    gentle = replace(ctx, preferences=Preferences(gentle=True))  # gentle mode keeps its cap
    assert RulePlanner().revise(RulePlanner().draft(gentle), _evaluation(*dull), gentle).brightness <= 0.35
