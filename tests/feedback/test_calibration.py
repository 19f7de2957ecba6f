"""Tempo calibration: a generator that plays off the asked tempo is asked for the tempo that lands
on the plan's; one that plays what it is asked is left alone.  Measured on rendered audio."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from promptloop.acquisition.affect import parse_affect
from promptloop.audio.analysis import pulse_tempo
from promptloop.feedback.calibration import TempoCalibration
from promptloop.representation.plan import with_tempo
from promptloop.session.loop import LoopSession, SessionSpec, run_session
from promptloop.synthesis.base import GenerationRequest, Generator
from promptloop.wiring.builders import build_backends
from promptloop.wiring.settings import Settings

FAST = 1.15  # the drifting generator plays every tempo 15 % fast


class Drifting(Generator):
    """The embedded generator, playing each request ``ratio`` times the tempo it was asked for."""

    def __init__(self, inner: Generator, ratio: float) -> None:
        self.inner, self.ratio = inner, ratio
        self.name = f"drifting({inner.name})"
        self.sample_rate, self.prior_seconds = inner.sample_rate, inner.prior_seconds
        self.asked: list[float] = []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        self.asked += [r.plan.tempo_bpm for r in requests]
        return self.inner.generate([replace(r, plan=with_tempo(r.plan, r.plan.tempo_bpm * self.ratio)) for r in requests])


@pytest.fixture(scope="module")
def backends():
    return build_backends(Settings())


def _spec(**kw) -> SessionSpec:
    return SessionSpec(start=parse_affect("calm"), target=parse_affect("relaxed"), segments=4, segment_seconds=6.0,
                       seed=3, candidates=2, max_retries=0, **kw)


def _session(backends, generator: Generator, **kw) -> LoopSession:
    return run_session(_spec(**kw), generator, backends.planner, backends.evaluator,
                       fallback_planner=backends.fallback_planner)


def _planned(session: LoopSession) -> list[float]:
    return [float(r.record.attempts[0].plan["tempo_bpm"]) for r in session.results]


def _played(session: LoopSession) -> list[float]:
    return [pulse_tempo(r.audio, session.sample_rate, bpm)[0] for r, bpm in zip(session.results, _planned(session),
                                                                               strict=True)]


def test_agreeing_measurements_beyond_the_dead_band_correct_the_request() -> None:
    cal = TempoCalibration()
    assert cal.ask_for(60.0) == 60.0  # nothing measured yet
    cal.add(60.0, 69.0, 0.95)
    assert cal.ask_for(60.0) == 60.0  # one candidate is not enough
    cal.add(60.0, 69.0, 0.9)
    assert cal.ask_for(60.0) == pytest.approx(60 / 1.15, abs=0.6)
    assert cal.ask_for(100.0) == pytest.approx(100 / 1.15, abs=0.6)


def test_weak_pulses_and_small_misses_change_nothing() -> None:
    cal = TempoCalibration()
    for _ in range(4):
        cal.add(60.0, 75.0, 0.5)  # no clear beat: says nothing about tempo
    assert cal.samples == [] and cal.ask_for(60.0) == 60.0
    for played in (62.0, 63.0, 61.5):  # within 6 %: the composer's grid stretch, not a drift
        cal.add(60.0, played, 1.0)
    assert cal.ask_for(60.0) == 60.0
    far = TempoCalibration()
    far.add(60.0, 120.0, 1.0), far.add(60.0, 120.0, 1.0)
    assert far.ask_for(60.0) == 45.0  # never more than 25 % off the plan


def test_with_tempo_rewrites_the_prompt_and_the_field_together(backends) -> None:
    from promptloop.feedback.base import PlanContext
    from promptloop.representation.preferences import Preferences

    w = parse_affect("calm")
    plan = backends.planner.draft(PlanContext(0, 3, 6.0, w, w, w, Preferences()))
    moved = with_tempo(plan, plan.tempo_bpm - 9.4)
    assert moved.tempo_bpm == round(plan.tempo_bpm - 9.4)
    assert f"{moved.tempo_bpm:.0f} bpm" in moved.prompt and f"{plan.tempo_bpm:.0f} bpm" not in moved.prompt


def test_a_generator_that_plays_fast_is_asked_slower_until_it_plays_the_plan(backends) -> None:
    drifting = Drifting(backends.generator, FAST)
    session = _session(backends, drifting)
    uncorrected = _session(backends, Drifting(backends.generator, FAST), calibrate_tempo=False)
    planned, played, before = _planned(session), _played(session), _played(uncorrected)
    # the first segment cannot know: it plays 15 % fast, as the uncorrected session does throughout
    assert all(p / t > 1.1 for p, t in zip(before, planned, strict=True))
    assert played[0] / planned[0] > 1.1
    # from the second segment on the requests ask about 1/1.15 of the plan, and the audio lands on it
    later = session.results[1:]
    assert all(r.record.attempts[0].asked_tempo_bpm is not None for r in later)
    for r, plan_bpm, got in zip(later, planned[1:], played[1:], strict=True):
        assert r.record.attempts[0].asked_tempo_bpm == pytest.approx(plan_bpm / FAST, rel=0.05)
        assert abs(got / plan_bpm - 1.0) < 0.06
    assert "calibrate_tempo" not in session.record().settings
    assert uncorrected.record().settings["calibrate_tempo"] is False


def test_the_embedded_generator_is_never_corrected(backends) -> None:
    for start, target in (("anxious", "calm"), ("tired", "energized"), ("sad", "happy")):
        spec = replace(_spec(), start=parse_affect(start), target=parse_affect(target), segments=5)
        session = run_session(spec, backends.generator, backends.planner, backends.evaluator,
                              fallback_planner=backends.fallback_planner)
        attempts = [a for r in session.results for a in r.record.attempts]
        assert all(a.asked_tempo_bpm is None for a in attempts)
        measured = [c for a in attempts for c in a.candidates if c.pulse_support is not None and c.pulse_support >= 0.8]
        assert len(measured) >= len(attempts)  # the calibration did measure: it found nothing to correct


def test_a_resumed_session_asks_what_the_uninterrupted_one_asked(backends) -> None:
    whole = _session(backends, Drifting(backends.generator, FAST))
    first = LoopSession(_spec(), Drifting(backends.generator, FAST), backends.planner, backends.evaluator,
                        fallback_planner=backends.fallback_planner)
    for _ in range(2):
        first.next_segment()
    resumed = LoopSession(_spec(), Drifting(backends.generator, FAST), backends.planner, backends.evaluator,
                          fallback_planner=backends.fallback_planner)
    resumed.resume(first.results, first.audio, first.between_segments())
    while not resumed.done:
        resumed.next_segment()
    asked = [a.asked_tempo_bpm for r in resumed.results for a in r.record.attempts]
    assert asked == [a.asked_tempo_bpm for r in whole.results for a in r.record.attempts]
