"""Locks: an explicit loosening is refused, anything a listener-side path produced is brought back
inside, tightening always passes."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptloop.acquisition.affect import Affect
from promptloop.errors import Conflict
from promptloop.representation.preferences import Preferences
from promptloop.service.clinical.locks import Locks, check, enforce

LOCKS = Locks(loudness_ceiling_lufs=-20.0, avoid=("drums",), gentle=True, target=Affect(0.3, -0.6),
              tempo_range_bpm=(60.0, 90.0))
SAFE = Preferences.build(["piano"], ["drums"], gentle=True, loudness_ceiling_lufs=-20.0, tempo_range_bpm=(60, 90))


def test_tightening_passes_and_loosening_is_refused_with_the_lock_named() -> None:
    check(LOCKS, Preferences.build(["piano"], ["drums", "bells"], gentle=True, loudness_ceiling_lufs=-30,
                                   tempo_range_bpm=(64, 80)), LOCKS.target)
    cases = {
        "loudness ceiling": Preferences.build(["piano"], ["drums"], gentle=True, loudness_ceiling_lufs=-10,
                                              tempo_range_bpm=(60, 90)),
        "drums": Preferences.build(["piano"], [], gentle=True, loudness_ceiling_lufs=-20, tempo_range_bpm=(60, 90)),
        "gentle mode": Preferences.build(["piano"], ["drums"], gentle=False, loudness_ceiling_lufs=-20,
                                         tempo_range_bpm=(60, 90)),
        "tempo range": Preferences.build(["piano"], ["drums"], gentle=True, loudness_ceiling_lufs=-20,
                                         tempo_range_bpm=(60, 120)),
        "60-90 BPM": dataclasses.replace(SAFE, tempo_range_bpm=None),
    }
    for words, prefs in cases.items():
        with pytest.raises(Conflict, match=words):
            check(LOCKS, prefs, None)
    with pytest.raises(Conflict, match="target"):
        check(LOCKS, None, Affect(0.8, 0.8))


def test_enforce_undoes_what_a_lock_forbids_and_says_so() -> None:
    loose = Preferences.build(["piano", "drums"], [], gentle=False, loudness_ceiling_lufs=-8)
    prefs, target, notes = enforce(LOCKS, loose, Affect(0.9, 0.9))
    assert prefs.loudness_ceiling_lufs == -20.0
    assert "drums" in prefs.avoid and "drums" not in prefs.instruments
    assert prefs.gentle and not (set(prefs.instruments) & {"bells", "drums"})
    assert target == LOCKS.target and prefs.tempo_range_bpm == (60.0, 90.0)
    assert len(notes) == 5 and all("locked by your therapist" in n for n in notes)


def test_enforce_changes_nothing_inside_the_locks_or_without_locks() -> None:
    assert enforce(LOCKS, SAFE, LOCKS.target) == (SAFE, LOCKS.target, [])
    loose = Preferences.build(["drums"], [], loudness_ceiling_lufs=-6)
    assert enforce(Locks(), loose, Affect(0.5, 0.5)) == (loose, Affect(0.5, 0.5), [])


def test_locks_round_trip_through_json() -> None:
    assert Locks.from_dict(LOCKS.to_dict()) == LOCKS
    assert not Locks().any() and LOCKS.any()
    assert len(LOCKS.explain()) == 5 and "tempo within 60-90 BPM" in LOCKS.explain()
    assert "tempo_range_bpm" not in Locks(gentle=True).to_dict()  # records from before the tempo lock read the same


TERMS = st.sampled_from(["piano", "drums", "bells", "rain", "strings", "ocean", "jazz", "warm"])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(prefer=st.lists(TERMS, max_size=5), avoid=st.lists(TERMS, max_size=3), gentle=st.booleans(),
       ceiling=st.floats(-60, -5), v=st.floats(-1, 1), a=st.floats(-1, 1),
       tempo=st.one_of(st.none(), st.tuples(st.floats(40, 140), st.floats(4, 40))))
def test_whatever_a_listener_path_produces_ends_inside_the_locks(prefer, avoid, gentle, ceiling, v, a, tempo) -> None:
    prefer = [t for t in prefer if t not in avoid and not (gentle and t in {"drums", "bells"})]
    span = None if tempo is None else (tempo[0], tempo[0] + tempo[1])
    prefs = Preferences.build(prefer, avoid, gentle=gentle, loudness_ceiling_lufs=ceiling, tempo_range_bpm=span)
    out, target, _notes = enforce(LOCKS, prefs, Affect(v, a))
    check(LOCKS, out, target)  # never raises: the result is inside every lock
    assert enforce(LOCKS, out, target) == (out, target, [])  # and enforcing again changes nothing
    assert out.loudness_ceiling_lufs <= min(ceiling, -20.0) + 1e-9
    assert out.tempo_range_bpm is not None and 60.0 <= out.tempo_range_bpm[0] <= out.tempo_range_bpm[1] <= 90.0
