import math

import pytest

from promptloop.acquisition.affect import Affect
from promptloop.acquisition.physio import Baseline, Readings, estimate_affect
from promptloop.errors import InputError


def test_heart_rate_above_baseline_raises_arousal():
    calm = estimate_affect(Readings(heart_rate=70), Baseline(heart_rate=70)).affect
    racing = estimate_affect(Readings(heart_rate=100), Baseline(heart_rate=70)).affect
    assert racing.arousal > calm.arousal + 0.3


def test_higher_hrv_lowers_arousal_and_raises_valence():
    est = estimate_affect(Readings(hrv_rmssd=80), Baseline(hrv_rmssd=40))
    assert est.affect.arousal < 0 and est.affect.valence > 0


def test_skin_conductance_and_eeg_raise_arousal():
    assert estimate_affect(Readings(skin_conductance=12), Baseline(skin_conductance=4)).affect.arousal > 0.2
    assert estimate_affect(Readings(eeg_alpha=0.1, eeg_beta=0.4)).affect.arousal > 0.2


def test_alpha_asymmetry_moves_valence():
    assert estimate_affect(Readings(eeg_alpha_asymmetry=0.5)).affect.valence > 0.2


def test_missing_readings_leave_prior_unchanged():
    prior = Affect(-0.3, 0.4)
    est = estimate_affect(Readings(), prior=prior)
    assert est.affect == prior and est.contributions == {}


def test_estimate_is_bounded():
    est = estimate_affect(Readings(heart_rate=240, skin_conductance=90, eeg_alpha=0.01, eeg_beta=0.9), prior=Affect(0, 0.9))
    assert est.affect.arousal <= 1.0


@pytest.mark.parametrize("kwargs", [{"heart_rate": -5}, {"heart_rate": math.nan}, {"hrv_rmssd": 0},
                                    {"skin_conductance": math.inf}, {"eeg_alpha": 2.0}, {"heart_rate": "80"}])
def test_impossible_values_are_refused(kwargs):
    with pytest.raises(InputError):
        Readings(**kwargs)


def test_unknown_fields_are_refused():
    with pytest.raises(InputError, match="unknown reading"):
        Readings.from_dict({"heart_rate": 70, "blood_type": 3})
