import pytest

from promptloop.errors import ConstraintViolation, InputError
from promptloop.representation.plan import MusicPlan
from promptloop.representation.plan_checks import check_prompt, enforce_constraints
from promptloop.representation.preferences import Preferences


def test_build_sorts_terms_and_resolves_aliases():
    prefs = Preferences.build("Piano, soft pads, rain, ambient, violins", "drums")
    assert prefs.instruments == ("piano", "pads", "rain", "violin")  # a violin stays a violin
    assert prefs.genres == ("ambient",)
    assert prefs.avoid == ("drums",)


def test_conflicting_preferences_are_refused():
    with pytest.raises(InputError, match="conflicting"):
        Preferences.build("piano, drums", "drums")
    with pytest.raises(InputError, match="gentle"):
        Preferences.build("bells", gentle=True)


@pytest.mark.parametrize("ceiling", [0.0, -100.0, float("nan")])
def test_bad_loudness_ceiling(ceiling):
    with pytest.raises(InputError):
        Preferences.build(loudness_ceiling_lufs=ceiling)


def test_gentle_mode_forbids_harsh_sounds():
    prefs = Preferences.build("piano", gentle=True)
    assert {"drums", "bells", "high-pitched"} <= prefs.forbidden


def test_check_prompt_catches_aliases():
    prefs = Preferences.build(avoid="strings")
    with pytest.raises(ConstraintViolation):
        check_prompt("calm music with violin and piano", prefs.forbidden)
    check_prompt("calm music with piano", prefs.forbidden)  # no error


@pytest.mark.parametrize("bad", [(90, 60), (20, 60), (70, 72), (60, float("nan")), ("slow", "fast"), (60,)])
def test_bad_tempo_ranges_are_input_errors(bad):
    with pytest.raises(InputError, match="tempo range"):
        Preferences(tempo_range_bpm=bad)


def test_a_tempo_range_survives_the_stored_form_and_older_records_have_none():
    prefs = Preferences.build("piano", tempo_range_bpm=[60, 90])
    assert prefs.tempo_range_bpm == (60.0, 90.0)
    assert Preferences.from_dict(prefs.to_dict()) == prefs
    assert "tempo_range_bpm" not in Preferences().to_dict()
    assert Preferences.from_dict(Preferences().to_dict()).tempo_range_bpm is None


def test_plans_keep_the_tempo_range_and_the_prompt_says_the_kept_tempo():
    prefs = Preferences(tempo_range_bpm=(70.0, 90.0))
    slow = MusicPlan(prompt="calm ambient piano, 56 bpm, soft", tempo_bpm=56)
    plan, notes = enforce_constraints(slow, prefs)
    assert plan.tempo_bpm == 70 and plan.prompt == "calm ambient piano, 70 bpm, soft"
    assert [(r.field, r.note) for r in notes] == [("tempo_bpm", "tempo 56 -> 70 BPM (comfortable range 70-90)")]
    # a prompt whose number disagrees with an in-range field is put right too
    plan, _ = enforce_constraints(MusicPlan(prompt="driving synth at 140 BPM", tempo_bpm=85), prefs)
    assert plan.tempo_bpm == 85 and plan.prompt == "driving synth at 85 bpm"
    assert enforce_constraints(slow, Preferences())[0] == slow  # no range: nothing held
