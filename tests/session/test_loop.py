"""The whole loop on the embedded default, measured on the audio it writes."""

import dataclasses

import numpy as np
import pytest

from promptloop.acquisition.affect import parse_affect
from promptloop.audio.analysis import detect_clicks, measure
from promptloop.audio.mix import integrated_lufs
from promptloop.feedback.base import Evaluation, PlanContext, Planner
from promptloop.representation.plan import MusicPlan
from promptloop.representation.preferences import Preferences
from promptloop.session.loop import LoopSession, SessionSpec, run_session
from promptloop.wiring.builders import build_backends
from promptloop.wiring.settings import Settings

SR = 32000


@pytest.fixture(scope="module")
def backends():
    return build_backends(Settings())


def _run(backends, **kw):
    spec = SessionSpec(start=parse_affect(kw.pop("start", "anxious")), target=parse_affect(kw.pop("target", "calm")), **kw)
    return run_session(spec, backends.generator, backends.planner, backends.evaluator,
                       fallback_planner=backends.fallback_planner)


@pytest.fixture(scope="module")
def calm_session(backends):
    return _run(backends, start="calm", target="calm", segments=3, segment_seconds=6, seed=1,
                preferences=Preferences.build("piano, soft pads"))


@pytest.fixture(scope="module")
def energized_session(backends):
    return _run(backends, start="energized", target="energized", segments=3, segment_seconds=6, seed=1)


def test_calm_session_is_slower_and_quieter_than_energized(calm_session, energized_session):
    calm = measure(calm_session.final_audio(), SR)
    energized = measure(energized_session.final_audio(), SR)
    assert calm.tempo_bpm < energized.tempo_bpm * 0.8
    assert calm.loudness_lufs < energized.loudness_lufs - 6
    assert calm.onset_rate < energized.onset_rate


def test_session_length_and_provenance(calm_session):
    record = calm_session.record()
    assert calm_session.final_audio().size == pytest.approx(3 * 6 * SR, abs=2)
    assert len(record.segments) == 3
    seg = record.segments[1]
    assert seg.attempts[0].candidates and seg.attempts[0].timings["generate"] > 0
    assert set(seg.attempts[0].candidates[0].components) == {"text", "affect", "constraints"}
    assert record.summary and record.summary.segments == 3


def test_loudness_stays_under_ceiling(backends):
    prefs = Preferences.build("piano", loudness_ceiling_lufs=-30.0)
    session = _run(backends, start="angry", target="energized", segments=2, segment_seconds=5, preferences=prefs)
    assert integrated_lufs(session.final_audio(), SR) <= -30.0
    for result in session.results:
        assert integrated_lufs(result.audio, SR) <= -30.0
    assert np.max(np.abs(session.final_audio())) <= 10 ** (-1 / 20) + 1e-6


def test_no_clicks_at_segment_seams(backends):
    """Stitching adds no click: every click the detector finds around a seam is one that the
    segments already hold on their own (a sampled piano's or harp's attack reads as one)."""
    session = _run(backends, segments=4, segment_seconds=5, seed=3)
    audio = session.final_audio()
    for before, after in zip(session.results, session.results[1:], strict=False):
        seam = after.record.start_s
        lo, hi = int((seam - 0.2) * SR), int((seam + 1.2) * SR)
        found = detect_clicks(audio[lo:hi], SR) + lo / SR
        own = np.concatenate([detect_clicks(before.audio, SR) + before.record.start_s,
                              detect_clicks(after.audio, SR) + seam])
        added = [t for t in found if own.size == 0 or np.min(np.abs(own - t)) > 0.005]
        assert not added, (seam, added)


def test_same_seed_same_audio(backends):
    a = _run(backends, segments=2, segment_seconds=4, seed=9).final_audio()
    b = _run(backends, segments=2, segment_seconds=4, seed=9).final_audio()
    c = _run(backends, segments=2, segment_seconds=4, seed=10).final_audio()
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_avoided_sounds_never_reach_a_prompt(backends):
    prefs = Preferences.build("piano, strings, rain", "drums, bells")
    session = _run(backends, start="angry", target="energized", segments=3, segment_seconds=4, preferences=prefs,
                   threshold=0.99, max_retries=2)
    prompts = [a.prompt for s in session.record().segments for a in s.attempts]
    assert len(prompts) > 3  # retries happened
    assert not any("drum" in p or "bell" in p for p in prompts)


def test_low_score_triggers_bounded_retries_with_rewritten_prompts(backends):
    session = _run(backends, segments=2, segment_seconds=4, threshold=1.0, max_retries=2, candidates=2,
                   skip_seed_only_retries=False)  # every retry made: the bound is what is tested
    for seg in session.record().segments:
        assert len(seg.attempts) == 3
        assert all(len(a.candidates) == 2 for a in seg.attempts)
        best = max(c.score for a in seg.attempts for c in a.candidates)
        assert seg.score == best


class _StubbornPlanner(Planner):
    """Never changes its plan when asked to revise (nothing it could correct)."""

    name = "stubborn"

    def __init__(self) -> None:
        from promptloop.feedback.planners.rule import RulePlanner

        self._rule = RulePlanner()

    def draft(self, context: PlanContext) -> MusicPlan:
        return self._rule.draft(context)

    def revise(self, plan: MusicPlan, evaluation: Evaluation, context: PlanContext) -> MusicPlan:
        return plan.model_copy(update={"rationale": "revised: new seed only"})


def test_a_retry_that_would_only_draw_new_seeds_is_not_made(backends):
    spec = SessionSpec(start=parse_affect("anxious"), target=parse_affect("calm"), segments=2, segment_seconds=4,
                       threshold=1.0, max_retries=2, skip_seed_only_retries=True)
    events: list[str] = []
    session = LoopSession(spec, backends.generator, _StubbornPlanner(), backends.evaluator, on_event=lambda kind, payload: events.append(kind))
    for _ in range(2):
        session.next_segment()
    record = session.record()
    assert all(len(seg.attempts) == 1 for seg in record.segments)
    assert session.retries_skipped == 2 and events.count("attempt_skipped") == 2
    assert record.summary is not None and record.summary.retries_skipped == 2
    ungated = LoopSession(SessionSpec(**{**spec.__dict__, "skip_seed_only_retries": False}), backends.generator,
                          _StubbornPlanner(), backends.evaluator)
    ungated.next_segment()
    assert len(ungated.record().segments[0].attempts) == 3 and ungated.retries_skipped == 0


class _HostilePlanner(Planner):
    """Asks for an avoided instrument; the loop must replace its plan."""

    name = "hostile"

    def draft(self, context: PlanContext) -> MusicPlan:
        return MusicPlan(prompt="loud drums and bells, 150 bpm", tempo_bpm=150)

    def revise(self, plan: MusicPlan, evaluation: Evaluation, context: PlanContext) -> MusicPlan:
        return self.draft(context)


def test_the_product_skips_seed_only_retries_unless_asked(backends):
    from promptloop.wiring.builders import spec_from_settings

    calm = parse_affect("calm")
    spec = spec_from_settings(Settings(), start=calm, target=calm, segments=1, segment_seconds=4, threshold=1.0,
                              max_retries=2)
    session = LoopSession(spec, backends.generator, _StubbornPlanner(), backends.evaluator)
    session.next_segment()
    assert len(session.record().segments[0].attempts) == 1 and session.retries_skipped == 1
    assert "skip_seed_only_retries" not in session.record().settings
    asked = spec_from_settings(Settings(seed_only_retries=True), start=calm, target=calm, segments=1,
                               segment_seconds=4, threshold=1.0, max_retries=2)
    ungated = LoopSession(asked, backends.generator, _StubbornPlanner(), backends.evaluator)
    ungated.next_segment()
    assert len(ungated.record().segments[0].attempts) == 3
    assert ungated.record().settings["skip_seed_only_retries"] is False


def test_constraint_breaking_plan_falls_back_and_is_recorded(backends):
    spec = SessionSpec(start=parse_affect("calm"), target=parse_affect("calm"), segments=1, segment_seconds=4,
                       preferences=Preferences.build(avoid="drums"))
    session = run_session(spec, backends.generator, _HostilePlanner(), backends.evaluator,
                          fallback_planner=backends.fallback_planner)
    attempt = session.record().segments[0].attempts[0]
    assert attempt.fallback and "drums" in attempt.fallback
    assert "drums" not in attempt.prompt


def test_listener_update_moves_next_waypoint(backends):
    from promptloop.session.loop import LoopSession

    spec = SessionSpec(start=parse_affect("anxious"), target=parse_affect("calm"), segments=3, segment_seconds=4)
    session = LoopSession(spec, backends.generator, backends.planner, backends.evaluator,
                          fallback_planner=backends.fallback_planner)
    session.next_segment()
    session.update_listener(parse_affect("relaxed"), source="test")
    rec = session.next_segment().record
    assert rec.events and rec.events[0]["source"] == "test"
    assert rec.waypoint.arousal < 0  # met the listener near "relaxed", not back near "anxious"


def test_bad_spec_values_are_refused():
    from promptloop.errors import InputError

    for kwargs in ({"segments": 0}, {"segment_seconds": 100.0}, {"candidates": 99}, {"threshold": 2.0}, {"seed": -1}):
        with pytest.raises(InputError):
            SessionSpec(start=parse_affect("calm"), target=parse_affect("calm"), **kwargs)


def _window_lufs(audio, start_s, seconds):
    return integrated_lufs(audio[int(start_s * SR):int((start_s + seconds) * SR)], SR)


def test_a_planned_loudness_change_eases_in_instead_of_stepping_at_the_seam(backends, monkeypatch):
    """anxious -> calm gets quieter segment by segment: each new segment starts at the last one's
    level and reaches its own over the glide.  Measured on the stitched audio against the same
    session stitched with the glide off (same segments, so the music's own level changes cancel)."""
    import promptloop.session.loop as loop_module
    from promptloop.representation.plan import DYNAMICS_LUFS

    eased = _run(backends, segments=4, segment_seconds=8, seed=2)
    with monkeypatch.context() as m:
        m.setattr(loop_module, "LEVEL_GLIDE_SECONDS", 0.0)
        stepped = _run(backends, segments=4, segment_seconds=8, seed=2)
    planned = [DYNAMICS_LUFS[r.record.attempts[r.record.chosen_attempt].plan["dynamics"]] for r in eased.results]
    heard = {"eased": eased.final_audio(), "stepped": stepped.final_audio()}
    steps = 0
    for k, after in enumerate(eased.results[1:], start=1):
        if planned[k - 1] - planned[k] < 3.5:
            continue
        steps += 1
        seam = after.record.start_s
        drop = {name: _window_lufs(audio, seam - 1.0, 1.0) - _window_lufs(audio, seam + 1.0, 1.0)
                for name, audio in heard.items()}
        assert drop["eased"] < drop["stepped"] - 1.2, (k, drop)  # about half the step is left at the seam
        later = {name: _window_lufs(audio, seam + 4.0, 3.0) for name, audio in heard.items()}
        assert abs(later["eased"] - later["stepped"]) < 0.3, (k, later)  # after the glide: the plan's level
    assert steps >= 1  # the path did ask for quieter segments


def test_a_lowered_ceiling_is_heard_at_the_next_seam_not_eased(backends):
    """After "too loud" the next segment starts no louder than the new ceiling allows."""
    session = LoopSession(SessionSpec(start=parse_affect("energized"), target=parse_affect("energized"), segments=2,
                                      segment_seconds=6, seed=4),
                          backends.generator, backends.planner, backends.evaluator,
                          fallback_planner=backends.fallback_planner)
    first = session.next_segment()
    loud = integrated_lufs(first.audio, SR)
    ceiling = loud - 10.0
    session.update_preferences(dataclasses.replace(session.preferences, loudness_ceiling_lufs=ceiling), "chat")
    second = session.next_segment()
    assert _window_lufs(second.audio, 1.0, 1.5) <= ceiling + 0.5  # right after the crossfade
    assert integrated_lufs(second.audio, SR) <= ceiling


def test_a_comfortable_tempo_range_holds_the_music_inside_it_on_the_audio(backends):
    # anxious -> calm asks for 116 BPM down to 69; a listener comfortable at 80-100 BPM hears
    # every segment inside that range, measured on the audio, and the other calming cues still arrive.
    free = _run(backends, segments=3, segment_seconds=6, seed=0)
    held = _run(backends, segments=3, segment_seconds=6, seed=0, preferences=Preferences(tempo_range_bpm=(80.0, 100.0)))
    tempi = [measure(r.audio, SR).tempo_bpm for r in held.results]
    assert all(80 * 0.95 <= t <= 100 * 1.05 for t in tempi), tempi
    free_end, held_end = measure(free.results[-1].audio, SR), measure(held.results[-1].audio, SR)
    assert held_end.tempo_bpm > free_end.tempo_bpm + 6, (held_end.tempo_bpm, free_end.tempo_bpm)
    assert held_end.loudness_lufs < measure(held.results[0].audio, SR).loudness_lufs - 6  # still winds down
    assert held.record().pacing.tempo_note and free.record().pacing.tempo_note is None
    # the plan says why its tempo is not the path's (the rule planner keeps the range's repair note)
    rationale = [r.record.attempts[r.record.chosen_attempt].plan["rationale"] for r in (held.results[0], free.results[0])]
    assert "comfortable range 80-100" in rationale[0] and "comfortable range" not in rationale[1], rationale
