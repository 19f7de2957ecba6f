"""Learning, within a session, how far the generator's tempo lands from the tempo it was asked for.

Text-to-music models follow tempo words loosely, and for one session's prompts often the same way:
a genre's usual tempo pulls them (docs/evaluation.md, "The imperfect-generator condition"). The
loop measures each candidate's pulse near the tempo it asked for
(:func:`promptloop.audio.analysis.pulse_tempo`, which cannot slip an octave or to an estimator's
prior). Once the recent candidates agree that the generator plays off by more than
:attr:`TempoCalibration.deadband`, the next request asks for the tempo that should land where the
plan wants. The plan stays the planner's: the evaluator still judges the audio against the plan,
and the record shows both tempos.

A generator that plays what it is asked for is never corrected. The embedded composer stretches a
segment's beat grid by at most 5 % to land its cadence on the seam (``compose.MAX_STRETCH``), and
the dead band lies above that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from promptloop.audio.analysis import pulse_tempo

__all__ = ["TempoCalibration"]


@dataclass
class TempoCalibration:
    """The ratio of played to asked tempo over a session's recent candidates."""

    #: Agreement below this share off the asked tempo is left alone (the embedded composer's grid
    #: stretch, the measurement's resolution).
    deadband: float = 0.06
    #: A candidate's pulse counts only when it is at least this strong against the strongest period
    #: (the evaluator's ``PULSE_SUPPORTED``): music without a clear beat says nothing about tempo.
    min_support: float = 0.8
    #: How many of the most recent measured candidates the ratio is the median of.
    window: int = 6
    #: At least this many measured candidates before any correction.
    min_samples: int = 2
    #: A request never asks more than this share away from the plan's tempo.
    max_correction: float = 0.25
    samples: list[float] = field(default_factory=list)  # log(played / asked), oldest first

    def add(self, asked_bpm: float, played_bpm: float, support: float) -> bool:
        """One candidate's measurement; False when its pulse was too weak to count."""
        if asked_bpm <= 0 or played_bpm <= 0 or support < self.min_support:
            return False
        self.samples.append(math.log(played_bpm / asked_bpm))
        return True

    def observe(self, asked_bpm: float, audio: np.ndarray, sample_rate: int) -> tuple[float, float]:
        """Measure one candidate that was asked for ``asked_bpm``; returns (played BPM, support)."""
        played, support = pulse_tempo(audio, sample_rate, asked_bpm)
        self.add(asked_bpm, played, support)
        return played, support

    @property
    def ratio(self) -> float:
        """Played over asked tempo for this generator now (1.0 until enough candidates agree)."""
        recent = self.samples[-self.window:]
        if len(recent) < self.min_samples:
            return 1.0
        ratio = math.exp(float(np.median(recent)))
        return ratio if abs(ratio - 1.0) > self.deadband else 1.0

    def ask_for(self, planned_bpm: float) -> float:
        """The tempo to ask the generator for so that it plays ``planned_bpm``."""
        ratio = self.ratio
        if ratio == 1.0:
            return planned_bpm
        low, high = planned_bpm * (1 - self.max_correction), planned_bpm * (1 + self.max_correction)
        return float(min(180.0, max(40.0, round(min(high, max(low, planned_bpm / ratio))))))

    def describe(self) -> dict[str, float | int]:
        return {"ratio": round(self.ratio, 4), "samples": len(self.samples)}
