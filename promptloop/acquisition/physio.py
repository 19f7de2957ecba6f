"""Physiological readings turned into an affect estimate.

Each reading is compared with the listener's own baseline, and the difference nudges arousal (and,
more weakly, valence) away from a prior affect.  Effect directions follow the psychophysiology
literature documented in docs/affect.md: heart rate above baseline and skin conductance above
baseline raise arousal; higher HRV (RMSSD) than baseline lowers arousal and slightly raises valence;
a higher EEG beta/alpha ratio than baseline raises arousal; positive frontal alpha asymmetry
(right minus left alpha, i.e. relatively more left activation) raises valence.

>>> est = estimate_affect(Readings(heart_rate=95), Baseline(heart_rate=70))
>>> est.affect.arousal > 0
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from promptloop.acquisition.affect import Affect
from promptloop.errors import InputError

__all__ = ["Baseline", "PhysioEstimate", "Readings", "estimate_affect"]

# Plausible physiological ranges; anything outside is a sensor fault or a typo, refused.
_RANGES: dict[str, tuple[float, float]] = {
    "heart_rate": (25.0, 250.0),  # beats per minute
    "hrv_rmssd": (1.0, 300.0),  # milliseconds
    "skin_conductance": (0.01, 100.0),  # microsiemens
    "eeg_alpha": (0.0, 1.0),  # relative band power
    "eeg_beta": (0.0, 1.0),
    "eeg_theta": (0.0, 1.0),
    "eeg_alpha_asymmetry": (-1.0, 1.0),  # ln(right alpha) - ln(left alpha), clipped
}


def _check(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    low, high = _RANGES[name]
    if not low <= value <= high:
        raise InputError(f"{name} {value} is outside the plausible range [{low}, {high}]")


@dataclass(frozen=True)
class Readings:
    """One set of readings; any field may be missing."""

    heart_rate: float | None = None
    hrv_rmssd: float | None = None
    skin_conductance: float | None = None
    eeg_alpha: float | None = None
    eeg_beta: float | None = None
    eeg_theta: float | None = None
    eeg_alpha_asymmetry: float | None = None

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            _check(name, value)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Readings:
        unknown = set(data) - set(_RANGES)
        if unknown:
            raise InputError(f"unknown reading field(s): {', '.join(sorted(unknown))}")
        return cls(**data)  # type: ignore[arg-type]

    def present(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def mean(cls, readings: Sequence[Readings]) -> Readings:
        """Each signal averaged over the readings that have it (missing where none has it)."""
        fields: dict[str, list[float]] = {}
        for r in readings:
            for name, value in r.present().items():
                fields.setdefault(name, []).append(value)
        return cls(**{name: sum(v) / len(v) for name, v in fields.items()})


@dataclass(frozen=True)
class Baseline(Readings):
    """The listener's resting values; defaults are population resting means."""

    heart_rate: float | None = 70.0
    hrv_rmssd: float | None = 40.0
    skin_conductance: float | None = 5.0
    eeg_alpha: float | None = 0.3
    eeg_beta: float | None = 0.2
    eeg_theta: float | None = 0.2
    eeg_alpha_asymmetry: float | None = 0.0

    @classmethod
    def partial(cls, values: Mapping[str, object]) -> Baseline:
        """The resting values a listener sent (checked like readings), population means for the rest."""
        return cls(**Readings.from_dict(values).present())


@dataclass(frozen=True)
class PhysioEstimate:
    """The estimated affect and each signal's contribution (no raw values)."""

    affect: Affect
    contributions: dict[str, dict[str, float]] = field(default_factory=dict)
    weight: float = 0.0


# Gains: change in arousal/valence per unit of normalised deviation from baseline.
_HR_AROUSAL_PER_BPM = 0.025
_HRV_AROUSAL_PER_LOG = -0.5
_HRV_VALENCE_PER_LOG = 0.2
_SCL_AROUSAL_PER_LOG = 0.4
_EEG_AROUSAL_PER_LOG = 0.3
_ASYM_VALENCE = 0.6


def estimate_affect(
    readings: Readings, baseline: Baseline | None = None, prior: Affect | None = None
) -> PhysioEstimate:
    """Move ``prior`` (neutral by default) by the readings' deviations from ``baseline``."""
    baseline = baseline or Baseline()
    prior = prior or Affect(0.0, 0.0)
    contributions: dict[str, dict[str, float]] = {}

    def add(name: str, arousal: float = 0.0, valence: float = 0.0) -> None:
        contributions[name] = {
            "arousal": round(max(-0.6, min(0.6, arousal)), 4),
            "valence": round(max(-0.6, min(0.6, valence)), 4),
        }

    r, b = readings, baseline
    if r.heart_rate is not None and b.heart_rate is not None:
        add("heart_rate", arousal=_HR_AROUSAL_PER_BPM * (r.heart_rate - b.heart_rate))
    if r.hrv_rmssd is not None and b.hrv_rmssd is not None:
        ratio = math.log(r.hrv_rmssd / b.hrv_rmssd)
        add("hrv_rmssd", arousal=_HRV_AROUSAL_PER_LOG * ratio, valence=_HRV_VALENCE_PER_LOG * ratio)
    if r.skin_conductance is not None and b.skin_conductance is not None:
        add(
            "skin_conductance",
            arousal=_SCL_AROUSAL_PER_LOG * math.log(r.skin_conductance / b.skin_conductance),
        )
    if None not in (r.eeg_alpha, r.eeg_beta, b.eeg_alpha, b.eeg_beta):
        eps = 1e-3
        now = math.log((r.eeg_beta + eps) / (r.eeg_alpha + eps))  # type: ignore[operator]
        rest = math.log((b.eeg_beta + eps) / (b.eeg_alpha + eps))  # type: ignore[operator]
        add("eeg_beta_alpha", arousal=_EEG_AROUSAL_PER_LOG * (now - rest))
    if r.eeg_alpha_asymmetry is not None and b.eeg_alpha_asymmetry is not None:
        add(
            "eeg_alpha_asymmetry",
            valence=_ASYM_VALENCE * (r.eeg_alpha_asymmetry - b.eeg_alpha_asymmetry),
        )

    d_arousal = sum(c["arousal"] for c in contributions.values())
    d_valence = sum(c["valence"] for c in contributions.values())
    affect = Affect.clipped(prior.valence + d_valence, prior.arousal + d_arousal)
    return PhysioEstimate(affect=affect, contributions=contributions, weight=len(contributions) / 5)
