"""The glide from the previous segment's tempo to the plan's (shared by both embedded generators)."""

from __future__ import annotations

import numpy as np
import pytest

from promptloop.representation.vocabulary import gm_voice
from promptloop.synthesis.soundfont.compose import MAX_STRETCH, Composition, beat_grid, compose
from promptloop.synthesis.tempo import GLIDE_BEATS, beat_times, glide_beats


@pytest.mark.parametrize(("seconds", "tempo", "start"), [(6.0, 66.0, 90.0), (10.0, 69.0, 120.0), (20.0, 120.0, 70.0)])
def test_the_new_tempo_is_reached_within_a_bar_and_a_fifth_of_the_segment(seconds, tempo, start):
    times = beat_times(seconds, tempo, start)
    glide_end = times[int(np.ceil(glide_beats(seconds, tempo, start)))]
    assert glide_end <= 0.2 * seconds + 60.0 / min(tempo, start)  # rounded up to the next beat
    assert glide_beats(seconds, tempo, start) <= GLIDE_BEATS
    after = np.diff(times[times > glide_end])
    assert np.allclose(after, 60.0 / tempo)
    assert times[1] - times[0] == pytest.approx(60.0 / start, rel=0.2)  # starts near the old pace


def test_a_short_calm_final_segment_plays_at_its_plan_tempo():
    # A 3 x 6 s anxious -> calm session: the last segment continues from ~90 BPM at 66 BPM.  Over a
    # fixed 8 beats the whole segment was glide; now most of it is at the plan's tempo.
    c = Composition(tempo_bpm=66.0, key="C", mode="major", dynamics="p", density=0.25, brightness=0.3,
                    valence=0.4, arousal=-0.6)
    score = compose(c, [gm_voice("piano"), gm_voice("pads")], 6.0, seed=1, start_tempo=90.0, tail_s=1.0)
    inside = score.beats[(score.beats > 1.6) & (score.beats < 5.0)]
    assert 60.0 / np.median(np.diff(inside)) == pytest.approx(66.0, rel=0.1)


def _after_glide(beats: np.ndarray, cadence: int, seconds: float, tempo: float, start: float) -> np.ndarray:
    """Beat intervals from the longest glide the grid may take (1.5 x nominal) to the cadence."""
    return np.diff(beats)[int(np.ceil(1.5 * glide_beats(seconds, tempo, start))):cadence]


@pytest.mark.parametrize(("seconds", "tempo", "start"), [(11.0, 120.0, 90.0), (9.0, 108.0, 85.0), (9.0, 72.0, 96.0),
                                                         (11.0, 100.0, 70.0), (7.0, 66.0, 90.0)])
def test_after_a_tempo_change_the_seam_is_landed_by_the_glide_and_the_plan_tempo_stays_exact(seconds, tempo, start):
    # Stretching the whole grid to put a beat on the seam played these 1-4 % off their plan after
    # the glide (120 BPM after 90 at 11 s as 118.5); the glide's length now takes up the difference.
    seam = seconds - 1.0
    beats, cadence = beat_grid(seconds, tempo, start, seam)
    assert beats[cadence] == pytest.approx(seam, abs=1e-6)
    after = _after_glide(beats, cadence, seconds, tempo, start)
    assert after.size >= 2
    assert np.allclose(60.0 / after, tempo, rtol=1e-3)
    assert 60.0 / (beats[1] - beats[0]) == pytest.approx(start, rel=0.1)  # still starts at the old pace


@pytest.mark.parametrize("seconds", (6.0, 7.0, 10.0))
@pytest.mark.parametrize(("tempo", "start"), [(120.0, 90.0), (69.0, 90.0), (104.0, 110.0), (59.0, 87.0), (72.0, 96.0)])
def test_a_gliding_grid_is_never_stretched_past_the_limit_nor_cadences_past_the_seam(seconds, tempo, start):
    seam = seconds - 1.0
    beats, cadence = beat_grid(seconds, tempo, start, seam)
    after = _after_glide(beats, cadence, seconds, tempo, start)
    assert np.all(np.abs(60.0 / after / tempo - 1.0) <= MAX_STRETCH + 1e-9)
    assert beats[cadence] <= seam + 1e-6 and seam - beats[cadence] < 60.0 / tempo * (1 + MAX_STRETCH)
