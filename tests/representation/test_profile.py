"""The listener profile: validated, a prior for preferences, learning across sessions."""

from __future__ import annotations

import pytest

from promptloop.acquisition.affect import Affect
from promptloop.errors import InputError
from promptloop.representation.preferences import Preferences
from promptloop.representation.profile import ListenerProfile, ProfileUpdate, load_profile_text


def test_an_empty_profile_changes_nothing() -> None:
    prefs = Preferences.build("piano", "drums", loudness_ceiling_lufs=-20.0)
    assert ListenerProfile().prior(prefs) == prefs


def test_the_prior_avoids_triggers_and_caps_loudness_but_respects_an_explicit_preference() -> None:
    profile = ListenerProfile(triggers=["piano", "strings"], rejected=["bells"], comfortable_loudness_lufs=(-40, -25))
    prior = profile.prior(Preferences.build("piano"))
    assert set(prior.avoid) == {"strings", "bells"}  # piano is asked for this time
    assert prior.loudness_ceiling_lufs == -25.0


def test_learning_accumulates_sessions_and_blends_numbers() -> None:
    p = ListenerProfile().learn(ProfileUpdate(triggers=["drums"], lead=1.0, follow=1.2, loudness_ceiling_lufs=-24.0,
                                              followed_tempo_bpm=(60.0, 80.0)))
    p = p.learn(ProfileUpdate(lead=0.6, followed_tempo_bpm=(70.0, 95.0), loudness_ceiling_lufs=-26.0))
    assert p.sessions == 2 and p.triggers == ["drums"]
    assert p.lead == pytest.approx(0.8) and p.follow == pytest.approx(1.2)
    assert p.comfortable_tempo_bpm == (60.0, 95.0) and p.comfortable_loudness_lufs == (-40.0, -26.0)


@pytest.mark.parametrize("text", ['{"colour": 1}', '{"comfortable_tempo_bpm": [120, 60]}', '{"moved_by": {"x": 1}}',
                                  '{"lead": 9}', "not json"])
def test_bad_profiles_are_input_errors(text: str) -> None:
    with pytest.raises(InputError):
        load_profile_text(text)


def test_a_learned_calming_ceiling_caps_calming_sessions_only() -> None:
    # The closed loop learns this ceiling while winding a listener down; an energising session that
    # took it would be held below the loudness its target needs.
    p = ListenerProfile().learn(ProfileUpdate(calming_ceiling_lufs=-29.0))
    assert p.calming_loudness_lufs == -29.0 and p.comfortable_loudness_lufs is None
    prefs = Preferences.build("piano", loudness_ceiling_lufs=-14.0)
    anxious, calm, energized = Affect(-0.6, 0.7), Affect(0.4, -0.6), Affect(0.6, 0.8)
    assert p.prior(prefs, anxious, calm).loudness_ceiling_lufs == -29.0
    assert p.prior(prefs, calm, energized).loudness_ceiling_lufs == -14.0
    assert p.prior(prefs).loudness_ceiling_lufs == -14.0  # direction unknown: only what the listener set
    assert p.learn(ProfileUpdate(calming_ceiling_lufs=-25.0)).calming_loudness_lufs == -27.0  # blended
