"""Pacing: every session ends at its target, says when the way there is steep, and takes any pacer.

The ending test is the issue-13 complaint measured on the audio: a 3 x 8 s anxious -> calm session
and a 3 x 8 s tired -> energized session must end on clearly different music.
"""

from __future__ import annotations

import numpy as np
import pytest

from promptloop.acquisition.affect import Affect, parse_affect
from promptloop.audio.analysis import measure
from promptloop.evaluation.metrics import measure_cues
from promptloop.session.loop import LoopSession, SessionSpec, run_session
from promptloop.session.pacing import IsoPacer, PaceContext, Pacer, Waypoint
from promptloop.wiring.builders import build_backends
from promptloop.wiring.settings import Settings

SR = 32000


@pytest.fixture(scope="module")
def backends():
    return build_backends(Settings())


def _context(**kw) -> PaceContext:
    values = dict(index=1, segments=3, start=parse_affect("anxious"), listener=parse_affect("anxious"),
                  listener_fresh=False, target=parse_affect("calm"), comfortable_step=0.5,
                  previous=parse_affect("anxious"))
    values.update(kw)
    return PaceContext(**values)  # type: ignore[arg-type]


def test_iso_pacer_meets_the_listener_then_lands_on_the_target():
    pacer = IsoPacer()
    first = pacer.next_waypoint(_context(index=0, previous=None))
    assert first.affect == parse_affect("anxious") and first.step == 0 and not first.steep
    middle = pacer.next_waypoint(_context(index=1))
    assert middle.affect.distance(parse_affect("calm")) == pytest.approx(1.6401 / 2, abs=1e-3)
    assert middle.steep  # 0.82 > 0.5: taken anyway, and flagged
    last = pacer.next_waypoint(_context(index=2, previous=middle.affect))
    assert last.affect == parse_affect("calm")


def test_iso_pacer_starts_from_a_fresh_listener_estimate():
    fresh = IsoPacer().next_waypoint(
        _context(index=1, segments=4, listener=parse_affect("relaxed"), listener_fresh=True))
    # a third of the way from "relaxed" to "calm", nowhere near "anxious"
    assert fresh.affect.distance(parse_affect("relaxed")) < 0.1 < fresh.affect.distance(parse_affect("anxious"))
    comfortable = IsoPacer().next_waypoint(_context(index=1, segments=6))
    assert not comfortable.steep and comfortable.step <= 0.5


def test_one_segment_session_plays_the_target():
    only = IsoPacer().next_waypoint(_context(index=0, segments=1, previous=None))
    assert only.affect == parse_affect("calm") and only.steep


class _HoldPacer(Pacer):
    """A stand-in for a closed-loop pacer: holds the listener's state for the first two segments."""

    name = "hold-then-go"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def next_waypoint(self, context: PaceContext) -> Waypoint:
        self.seen.append(context.index)
        assert len(context.history) == context.index
        if context.index < 2:
            return Waypoint(context.listener, 0.0, False, "hold")
        return Waypoint(context.target, context.listener.distance(context.target), True, "go")


def test_the_loop_takes_any_pacer_and_records_it(backends):
    spec = SessionSpec(start=parse_affect("anxious"), target=parse_affect("calm"), segments=3,
                       segment_seconds=2.0, candidates=1, max_retries=0, crossfade_seconds=0.2)
    pacer = _HoldPacer()
    session = run_session(spec, backends.generator, backends.planner, backends.evaluator,
                          fallback_planner=backends.fallback_planner, pacer=pacer)
    record = session.record()
    assert pacer.seen == [0, 1, 2]
    assert [r.pace for r in record.segments] == ["hold", "hold", "go"]
    assert record.segments[1].waypoint.arousal == pytest.approx(0.7)
    assert record.pacing is not None and record.pacing.pacer == {"name": "hold-then-go"}
    assert record.pacing.steep_segments == [2]


def test_steep_sessions_still_end_at_the_target_and_say_so(backends):
    spec = SessionSpec(start=parse_affect("anxious"), target=parse_affect("calm"), segments=3,
                       segment_seconds=2.0, candidates=1, max_retries=0, crossfade_seconds=0.2)
    session = LoopSession(spec, backends.generator, backends.planner, backends.evaluator,
                          fallback_planner=backends.fallback_planner)
    assert session.pace().steep
    while not session.done:
        session.next_segment()
    record = session.record()
    last = record.segments[-1].waypoint
    assert Affect(last.valence, last.arousal).distance(parse_affect("calm")) < 1e-3
    assert record.pacing is not None and record.pacing.steep and record.pacing.comfortable_segments == 5
    assert record.pacing.note and "5 segments" in record.pacing.note
    assert record.segments[1].steep and record.segments[2].steep


@pytest.fixture(scope="module")
def endings(backends):
    """The two sessions of the issue: 3 x 8 s, default settings, embedded default."""
    out = {}
    for start, target in (("anxious", "calm"), ("tired", "energized")):
        spec = SessionSpec(start=parse_affect(start), target=parse_affect(target), segments=3,
                           segment_seconds=8.0, seed=0)
        session = run_session(spec, backends.generator, backends.planner, backends.evaluator,
                              fallback_planner=backends.fallback_planner)
        out[target] = session.results[-1].audio
    return out


def test_calm_and_energized_endings_differ_in_tempo_loudness_and_density(endings):
    calm, energized = measure(endings["calm"], SR), measure(endings["energized"], SR)
    rms = {k: 20 * np.log10(np.sqrt(np.mean(v.astype(np.float64) ** 2))) for k, v in endings.items()}
    assert rms["energized"] - rms["calm"] > 10.0  # was 0.0 dB (-21.4 vs -21.4) before issue 13
    assert energized.loudness_lufs - calm.loudness_lufs > 10.0
    assert energized.onset_rate > 1.5 * calm.onset_rate  # was 1.44/s each
    # tempo by both estimators: the loop's and the evaluation's independent one
    assert energized.tempo_bpm > 1.3 * calm.tempo_bpm
    assert measure_cues(endings["energized"], SR).tempo_bpm > 1.3 * measure_cues(endings["calm"], SR).tempo_bpm
