
import pytest

from promptloop.acquisition.affect import (
    AFFECT_WORDS,
    Affect,
    describe_affect,
    parse_affect,
)
from promptloop.errors import InputError
from promptloop.representation.trajectory import iso_trajectory, path_pace


@pytest.mark.parametrize("word", ["anxious", "stressed", "angry", "sad", "tired", "bored", "neutral", "calm",
                                  "relaxed", "content", "happy", "focused", "energized", "sleepy"])
def test_required_words_are_known(word):
    assert isinstance(parse_affect(word), Affect)


def test_words_sit_in_their_quadrants():
    assert AFFECT_WORDS["anxious"].valence < 0 < AFFECT_WORDS["anxious"].arousal
    assert AFFECT_WORDS["sad"].valence < 0 and AFFECT_WORDS["sad"].arousal < 0
    assert AFFECT_WORDS["calm"].valence > 0 > AFFECT_WORDS["calm"].arousal
    assert AFFECT_WORDS["happy"].valence > 0 and AFFECT_WORDS["happy"].arousal > 0


def test_numbers_parse_and_words_are_case_insensitive():
    assert parse_affect("v=-0.5,a=0.7") == Affect(-0.5, 0.7)
    assert parse_affect("valence=0.2; arousal=-0.1") == Affect(0.2, -0.1)
    assert parse_affect(" Calm ") == AFFECT_WORDS["calm"]


@pytest.mark.parametrize("bad", ["furious-ish", "", "v=2,a=0", "v=0,a=-1.5", "v=nan,a=0", "v=0"])
def test_bad_affect_is_refused(bad):
    with pytest.raises(InputError):
        parse_affect(bad)


def test_describe_names_the_nearest_words():
    assert describe_affect(AFFECT_WORDS["calm"]).startswith("calm")


def test_iso_trajectory_starts_at_listener_and_moves_evenly_to_the_target():
    start, target = parse_affect("anxious"), parse_affect("calm")
    path = iso_trajectory(start, target, segments=6)
    assert path[0] == start
    assert path[-1].distance(target) < 1e-9
    steps = [a.distance(b) for a, b in zip(path, path[1:], strict=False)]
    assert max(steps) - min(steps) < 1e-9  # equal steps
    dists = [p.distance(target) for p in path]
    assert all(b < a for a, b in zip(dists, dists[1:], strict=False))


@pytest.mark.parametrize("segments", [1, 2, 3, 5, 12])
def test_iso_trajectory_reaches_a_far_target_whatever_the_number_of_segments(segments):
    path = iso_trajectory(parse_affect("angry"), parse_affect("sleepy"), segments=segments)
    assert len(path) == segments
    assert path[-1] == parse_affect("sleepy")


def test_path_pace_says_when_a_path_is_steeper_than_comfortable():
    steep = path_pace(parse_affect("anxious"), parse_affect("calm"), segments=3, comfortable_step=0.5)
    assert steep.steep and steep.step == pytest.approx(1.6401 / 2, abs=1e-3)
    assert steep.comfortable_segments == 5  # 1.64 in steps of at most 0.5
    assert "5 segments" in (steep.note() or "")
    easy = path_pace(parse_affect("anxious"), parse_affect("calm"), segments=5, comfortable_step=0.5)
    assert not easy.steep and easy.note() is None
    assert path_pace(parse_affect("calm"), parse_affect("calm"), 1, 0.5).note() is None
