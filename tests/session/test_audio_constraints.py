"""A listener's avoided sounds never reach them, even from a generator that adds them.

Real text-to-music models let genre defaults creep in (drums in a "lofi" prompt that did not ask for
them).  The loop must not trade a constraint for score: a clean candidate beats a better-scoring one
with drums, a violation keeps the retries going, and when no candidate comes clean the drums are
removed from the audio.  Measured on the audio with the evaluation harness's own percussion count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from promptloop.acquisition.affect import parse_affect
from promptloop.audio.mix import integrated_lufs
from promptloop.audio.percussion import percussive_hits
from promptloop.evaluation.metrics import measure_cues
from promptloop.feedback.base import Evaluator, PlanContext
from promptloop.feedback.planners.rule import write_prompt
from promptloop.representation.plan_checks import AUDIO_LIMITS
from promptloop.representation.preferences import Preferences
from promptloop.session.loop import LoopSession, SessionSpec
from promptloop.synthesis.base import GenerationRequest, Generator
from promptloop.wiring.builders import build_backends
from promptloop.wiring.settings import Settings

LIMIT = AUDIO_LIMITS["percussive_hits"]


class _DrumCreep(Generator):
    """``inner`` with a drum kit added to the plans of the requests at ``positions`` in each batch (a
    genre default's beat: at least the kick, snare and hats of the middle density)."""

    def __init__(self, inner: Generator, positions: set[int] | None = None) -> None:
        self.inner, self.positions = inner, positions
        self.name = f"drum-creep({inner.name})"
        self.sample_rate, self.prior_seconds = inner.sample_rate, inner.prior_seconds
        self.batches_across_sessions = inner.batches_across_sessions

    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        out = []
        for i, request in enumerate(requests):
            if self.positions is None or i in self.positions:
                plan = request.plan.model_copy(update={"instruments": (*request.plan.instruments, "drums"),
                                                       "density": max(request.plan.density, 0.5)})
                request = replace(request, plan=plan.model_copy(update={"prompt": write_prompt(plan, False)}))
            out.append(request)
        return self.inner.generate(out)

    def describe(self):
        return {"name": self.name, "inner": self.inner.describe()}


@pytest.fixture(scope="module")
def backends():
    return build_backends(Settings())


def _spec(**kw) -> SessionSpec:
    base = dict(start=parse_affect("tired"), target=parse_affect("energized"), segments=2, segment_seconds=5,
                seed=3, candidates=2, max_retries=1, threshold=0.0,
                preferences=Preferences.build("piano, guitar", avoid="drums"))
    return SessionSpec(**{**base, **kw})


def test_the_drum_creep_generator_really_plays_drums(backends):
    spec = _spec()
    context = PlanContext(segment_index=0, segments=spec.segments, segment_seconds=spec.segment_seconds,
                          waypoint=spec.target, listener=spec.start, target=spec.target,
                          preferences=spec.preferences, previous_plan=None, max_step=spec.max_step)
    plan = backends.planner.draft(context)
    assert "drums" not in plan.instruments
    clip = _DrumCreep(backends.generator).generate([GenerationRequest(plan, 5.0, 11)])[0]
    assert percussive_hits(clip, backends.generator.sample_rate) > LIMIT


class _FondOfDrums(Evaluator):
    """``inner``'s evaluation, with the candidates that break a constraint scored highest (an
    evaluator that weighs constraints lightly, as the embedded one's 0.2 does)."""

    name = "fond-of-drums"

    def __init__(self, inner: Evaluator) -> None:
        self.inner = inner

    def evaluate(self, audio, sample_rate, plan, context):
        evaluation = self.inner.evaluate(audio, sample_rate, plan, context)
        return replace(evaluation, score=1.0 if evaluation.violations else 0.5)


def test_a_clean_candidate_is_chosen_over_a_better_scoring_one_with_drums(backends):
    # Candidate 0 of every batch gets drums and the top score; the threshold is met at once.
    session = LoopSession(_spec(threshold=0.9), _DrumCreep(backends.generator, {0}), backends.planner,
                          _FondOfDrums(backends.evaluator))
    for _ in range(2):
        result = session.next_segment()
        attempt = result.record.attempts[result.record.chosen_attempt]
        assert attempt.candidates[0].violations  # the drummed candidate was heard as such
        assert not attempt.candidates[attempt.best].violations
        assert attempt.best == 1
        assert measure_cues(result.audio, session.sample_rate).percussive_hits <= LIMIT


def test_drums_no_candidate_avoids_are_removed_from_the_audio(backends):
    events: list[str] = []
    session = LoopSession(_spec(), _DrumCreep(backends.generator), backends.planner, backends.evaluator,
                          on_event=lambda kind, payload: events.append(kind))
    sr = session.sample_rate
    for _ in range(2):
        result = session.next_segment()
        record = result.record
        # every candidate of every attempt had drums, so the violation kept the retries going
        assert len(record.attempts) == 2
        assert all(c.violations for a in record.attempts for c in a.candidates)
        repair = [e for e in record.events if e["kind"] == "repair"]
        assert repair and repair[0]["removed"] == ["percussion"] and repair[0]["kept"]
        cues = measure_cues(result.audio, sr)
        assert cues.percussive_hits <= LIMIT  # the harness's count, not the loop's own
        # still the planned music: at its loudness, and not emptied out
        assert abs(integrated_lufs(result.audio, sr) - session._target_lufs(
            session._last_plan)) < 1.5  # noqa: SLF001
        assert cues.centroid_hz > 200
    assert events.count("repair") == 2
    assert not any(seg.events and any(e.get("violations_after") for e in seg.events if e["kind"] == "repair")
                   for seg in session.record().segments)
