"""A simulated listener ("digital twin") for closed-loop evaluation.

The twin has a latent affect (valence, arousal) that moves toward what the music it hears
expresses, with a first-order lag and noise, and it emits physiological readings that
:mod:`promptloop.acquisition.physio` can turn back into an affect estimate — so a session can read the twin
exactly as it would read a wearable.

Model (documented with sources in docs/evaluation.md):

* the music's pull on arousal, from the segment's *measured* cues (the harness's independent
  measurement, :func:`promptloop.evaluation.metrics.measure_cues`)::

      a_music = clip(0.5·z(tempo; 90 ± 30 BPM) + 0.3·z(loudness; −23 ± 8 LUFS)
                     + 0.2·z(centroid; 1500 ± 1000 Hz))

  faster tempo, louder sound and brighter timbre each raise arousal and heart rate (Bernardi,
  Porta & Sleight 2006; Gomez & Danuser 2007; Juslin & Laukka 2004);
* the pull on valence: major mode raises it, minor lowers it (Gabrielsson & Lindström 2010;
  Eerola, Friberg & Bresin 2013), slightly brightened by tempo::

      v_music = clip(0.7·sign(mode) + 0.15·z(tempo) + 0.15·z(centroid))

* first-order lag over a segment of T seconds, with this listener's responsiveness r::

      state ← state + r·(1 − exp(−T/τ))·(music − state) + σ·√(1 − exp(−T/τ))·ε,
      τ_arousal = 30 s, τ_valence = 60 s, σ = 0.05

* readings: heart rate = rest + 15·arousal, skin conductance = 5·exp(0.6·arousal) µS,
  RMSSD = 40·exp(−0.5·arousal) ms, frontal alpha asymmetry = 0.8·valence, each with sensor noise.

The readout gains are chosen so that :func:`promptloop.acquisition.physio.estimate_affect` recovers roughly
0.85× the twin's arousal and 0.5× its valence: a wearable sees the state, blurred and shrunk toward
neutral.  The twin is a test bed for the control loop, not a model of any real person.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from promptloop.acquisition.affect import Affect
from promptloop.acquisition.physio import Baseline, Readings, estimate_affect
from promptloop.evaluation.metrics import Cues

__all__ = ["DigitalTwin", "TwinParameters", "music_pull"]

TAU_AROUSAL_S = 30.0
TAU_VALENCE_S = 60.0
STATE_NOISE = 0.05
HR_PER_AROUSAL = 15.0
SCL_LOG_PER_AROUSAL = 0.6
RMSSD_LOG_PER_AROUSAL = -0.5
ASYMMETRY_PER_VALENCE = 0.8


def _z(value: float, centre: float, half_range: float) -> float:
    return float(np.clip((value - centre) / half_range, -1.0, 1.0))


def music_pull(cues: Cues) -> Affect:
    """Where music with these measured cues draws a listener on the circumplex."""
    tempo = _z(cues.tempo_bpm, 90.0, 30.0)
    loud = _z(cues.loudness_lufs, -23.0, 8.0)
    bright = _z(cues.centroid_hz, 1500.0, 1000.0)
    mode = 1.0 if cues.mode == "major" else -1.0
    return Affect.clipped(0.7 * mode + 0.15 * tempo + 0.15 * bright,
                          0.5 * tempo + 0.3 * loud + 0.2 * bright)


@dataclass(frozen=True)
class TwinParameters:
    """One simulated person: resting heart rate and how strongly music moves them."""

    resting_hr: float = 70.0
    responsiveness: float = 0.8

    @classmethod
    def sample(cls, rng: np.random.Generator) -> TwinParameters:
        return cls(resting_hr=float(np.clip(rng.normal(70.0, 5.0), 55.0, 90.0)),
                   responsiveness=float(rng.uniform(0.6, 1.0)))


@dataclass
class DigitalTwin:
    """A simulated listener; :meth:`listen` advances it, :meth:`readings` measures it."""

    state: Affect
    params: TwinParameters
    rng: np.random.Generator
    history: list[dict[str, float]] = field(default_factory=list)

    @classmethod
    def create(cls, start: Affect, seed: int) -> DigitalTwin:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7717]))
        twin = cls(state=start, params=TwinParameters.sample(rng), rng=rng)
        twin._log(0.0)
        return twin

    @property
    def baseline(self) -> Baseline:
        """The twin's resting values (what a wearable app would have calibrated)."""
        return Baseline(heart_rate=self.params.resting_hr)

    def heart_rate(self) -> float:
        return self.params.resting_hr + HR_PER_AROUSAL * self.state.arousal

    def listen(self, cues: Cues, seconds: float) -> Affect:
        """Hear ``seconds`` of music with these cues; returns the new latent state."""
        pull = music_pull(cues)
        step_a = 1.0 - math.exp(-seconds / TAU_AROUSAL_S)
        step_v = 1.0 - math.exp(-seconds / TAU_VALENCE_S)
        r = self.params.responsiveness
        noise = self.rng.normal(0.0, STATE_NOISE, size=2)
        arousal = self.state.arousal + r * step_a * (pull.arousal - self.state.arousal) + noise[0] * math.sqrt(step_a)
        valence = self.state.valence + r * step_v * (pull.valence - self.state.valence) + noise[1] * math.sqrt(step_v)
        self.state = Affect.clipped(valence, arousal)
        self._log(seconds)
        return self.state

    def readings(self) -> Readings:
        """One noisy set of wearable readings for the current state."""
        a, v = self.state.arousal, self.state.valence
        n = self.rng.normal(0.0, 1.0, size=4)
        return Readings(
            heart_rate=float(np.clip(self.heart_rate() + 2.0 * n[0], 30.0, 200.0)),
            skin_conductance=float(np.clip(5.0 * math.exp(SCL_LOG_PER_AROUSAL * a) * (1 + 0.05 * n[1]), 0.05, 90.0)),
            hrv_rmssd=float(np.clip(40.0 * math.exp(RMSSD_LOG_PER_AROUSAL * a) * (1 + 0.08 * n[2]), 2.0, 250.0)),
            eeg_alpha_asymmetry=float(np.clip(ASYMMETRY_PER_VALENCE * v + 0.05 * n[3], -1.0, 1.0)),
        )

    def sensed_affect(self) -> Affect:
        """What the session's physio estimator makes of one reading (what closed loop feeds back)."""
        return estimate_affect(self.readings(), self.baseline).affect

    def _log(self, seconds: float) -> None:
        elapsed = (self.history[-1]["t"] if self.history else 0.0) + seconds
        self.history.append({"t": round(elapsed, 3), "valence": round(self.state.valence, 4),
                             "arousal": round(self.state.arousal, 4), "heart_rate": round(self.heart_rate(), 2)})
