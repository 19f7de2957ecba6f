"""Who a simulated listener is: the traits that make one twin differ from another.

Every trait is drawn from a seeded generator, so twin ``n`` is the same listener on every run.
The distributions (and the literature each one comes from) are listed in docs/evaluation.md,
"The twin population"; numbers not taken from a source are marked there as model choices.

>>> a, b = TwinTraits.sample(1), TwinTraits.sample(1)
>>> a == b
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["HELD_OUT_SEEDS", "TRIGGER_CANDIDATES", "TUNING_SEEDS", "TwinTraits"]

#: Sounds that may act as a trigger: the pitched voices and textures the planners use.
TRIGGER_CANDIDATES: tuple[str, ...] = ("piano", "pads", "strings", "bass", "drums", "guitar", "flute", "bells", "rain")
#: The controller's constants were tuned on these twins only.
TUNING_SEEDS = range(1000)
#: The evaluation draws its twins from here (never seen while tuning).
HELD_OUT_SEEDS = range(100_000, 101_000)


def _lognormal(rng: np.random.Generator, median: float, sigma: float, low: float, high: float) -> float:
    return float(np.clip(median * np.exp(rng.normal(0.0, sigma)), low, high))


@dataclass(frozen=True)
class TwinTraits:
    """One simulated person (all of it hidden from the session, which sees only readings)."""

    seed: int
    # -- how the listener's affect follows music ----------------------------------------------
    gain: float  # response gain: how far toward the music's pull the listener settles (1: all the way)
    tau_arousal_s: float  # first-order time constant of arousal
    tau_valence_s: float  # of valence (mood moves slower than activation)
    latency_s: float  # dead time before a change in the music starts to act
    acceptance_radius: float  # music further than this from the listener's state is resisted
    habituation: float  # gain lost per repetition of near-identical music
    preferred_tempo_bpm: float  # centre of the liked tempo range
    tempo_tolerance_bpm: float  # half-width of the liked range
    loudness_sensitivity: float  # multiplies loudness's pull on arousal
    comfortable_lufs: float  # above this the listener is annoyed (arousal up, valence down)
    home_valence: float  # the listener's resting mood, toward which they drift back
    home_arousal: float
    triggers: tuple[str, ...]  # sounds that raise arousal and lower valence for this listener
    # -- physiology and the wearable -------------------------------------------------------------
    resting_hr: float
    hr_per_arousal: float
    resting_rmssd_ms: float
    rmssd_log_per_arousal: float
    resting_scl_us: float
    scl_log_per_arousal: float  # ~0 for electrodermal non-responders
    scl_drift_per_min: float  # fractional upward drift of skin conductance (electrode hydration)

    @classmethod
    def sample(cls, seed: int) -> TwinTraits:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7717, 14]))
        tau_a = _lognormal(rng, 6.0, 0.35, 3.0, 15.0)
        hyperacusic = rng.random() < 0.10
        non_responder = rng.random() < 0.10
        n_triggers = int(rng.choice([0, 1, 2], p=[0.55, 0.35, 0.10]))
        triggers = tuple(sorted(rng.choice(TRIGGER_CANDIDATES, size=n_triggers, replace=False).tolist()))
        return cls(
            seed=seed,
            gain=float(rng.uniform(0.65, 1.0)),
            tau_arousal_s=tau_a,
            tau_valence_s=tau_a * float(rng.uniform(1.2, 2.0)),
            latency_s=float(rng.uniform(1.0, 3.0)),
            acceptance_radius=float(rng.uniform(0.5, 1.0)),
            habituation=float(rng.uniform(0.05, 0.35)),
            preferred_tempo_bpm=float(np.clip(rng.normal(100.0, 12.0), 70.0, 130.0)),
            tempo_tolerance_bpm=float(rng.uniform(20.0, 35.0)),
            loudness_sensitivity=_lognormal(rng, 1.0, 0.3, 0.5, 2.0),
            comfortable_lufs=float(rng.normal(-28.0, 2.0) if hyperacusic else rng.normal(-19.0, 3.0)),
            home_valence=float(np.clip(rng.normal(0.1, 0.15), -0.4, 0.5)),
            home_arousal=float(np.clip(rng.normal(-0.1, 0.15), -0.5, 0.3)),
            triggers=triggers,
            resting_hr=float(np.clip(rng.normal(70.0, 8.0), 50.0, 95.0)),
            hr_per_arousal=float(np.clip(rng.normal(12.0, 3.0), 5.0, 20.0)),
            resting_rmssd_ms=_lognormal(rng, 40.0, 0.35, 12.0, 110.0),
            rmssd_log_per_arousal=float(rng.uniform(0.3, 0.6)),
            resting_scl_us=_lognormal(rng, 5.0, 0.5, 1.0, 20.0),
            scl_log_per_arousal=0.02 if non_responder else float(rng.uniform(0.3, 0.7)),
            scl_drift_per_min=float(rng.uniform(0.0, 0.03)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else list(v) if isinstance(v, tuple) else v)
                for k, v in asdict(self).items()}
