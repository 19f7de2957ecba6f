import pytest

from promptloop.errors import ConstraintViolation, InputError
from promptloop.representation.plan_checks import check_prompt
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
