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
    assert p.followed_tempo_bpm == (60.0, 95.0) and p.comfortable_loudness_lufs == (-40.0, -26.0)
    assert p.comfortable_tempo_bpm is None  # the listener's to set: learning never widens a limit


def test_the_comfortable_tempo_range_limits_the_session_and_a_followed_range_does_not() -> None:
    followed = ListenerProfile(followed_tempo_bpm=(66.0, 120.0))
    assert followed.prior(Preferences()).tempo_range_bpm is None
    limited = ListenerProfile(comfortable_tempo_bpm=(60.0, 90.0))
    assert limited.prior(Preferences()).tempo_range_bpm == (60.0, 90.0)
    assert limited.prior(Preferences(tempo_range_bpm=(80.0, 120.0))).tempo_range_bpm == (80.0, 90.0)
    # no overlap: the range chosen for this session wins
    assert limited.prior(Preferences(tempo_range_bpm=(100.0, 120.0))).tempo_range_bpm == (100.0, 120.0)


def test_a_format_1_profile_keeps_its_learned_tempi_as_followed_not_as_a_limit() -> None:
    old = load_profile_text('{"format": "promptloop-profile/1", "sessions": 3, "comfortable_tempo_bpm": [66, 120]}')
    assert old.format == "promptloop-profile/2" and old.sessions == 3
    assert old.followed_tempo_bpm == (66.0, 120.0) and old.comfortable_tempo_bpm is None
    assert load_profile_text(old.model_dump_json()) == old


@pytest.mark.parametrize("text", ['{"colour": 1}', '{"comfortable_tempo_bpm": [120, 60]}', '{"moved_by": {"x": 1}}',
                                  '{"comfortable_tempo_bpm": [70, 71]}', '{"followed_tempo_bpm": [200, 210]}',
                                  '{"format": "promptloop-profile/9"}', '{"lead": 9}', "not json"])
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


def test_the_listeners_own_word_rejects_and_readmits_sounds_without_counting_a_session() -> None:
    p = ListenerProfile(rejected=["bells"], triggers=["strings"]).heard(["Drums", "bells"], [])
    assert p.rejected == ["bells", "drums"] and p.sessions == 0
    p = p.heard([], ["bells", "strings"])
    assert p.rejected == ["drums"] and p.triggers == ["strings"]  # a trigger is evidence, not their word
    assert p.heard([], []) is p
