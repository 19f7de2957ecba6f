"""The synthesis layer's interface: a generator turns a plan's prompt and prior audio into audio.

Backends (the embedded synth, MusicGen, audiocraft) adapt an outside library to this; the loop only
talks to it, so any generator registered by name can take part.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from promptloop.representation.plan import MusicPlan
from promptloop.synthesis.score import Score

__all__ = ["GenerationRequest", "Generator"]

@dataclass(frozen=True)
class GenerationRequest:
    """Generate ``duration_s`` seconds that continue ``prior`` (mono, at the generator's rate)."""

    plan: MusicPlan
    duration_s: float
    seed: int
    prior: np.ndarray | None = None
    prior_plan: MusicPlan | None = None
    #: The next segment will start this long before this one ends (the crossfade): a composing
    #: generator lands its cadence there, so the seam falls on a downbeat.
    tail_s: float = 0.0


class Generator(abc.ABC):
    """Turns plans (with their text prompts) into audio that continues prior audio."""

    name: str = "generator"
    sample_rate: int = 32000
    #: How many seconds of prior audio the generator wants as its continuation prompt.
    prior_seconds: float = 4.0
    #: True when one ``generate`` call over many requests costs about as much as one request
    #: (a batched model decode); the server then merges concurrent sessions' calls.
    batches_across_sessions: bool = False

    @abc.abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        """Return one mono float32 array per request, each ``duration_s`` long (new audio only)."""

    def substitutions(self, plan: MusicPlan) -> dict[str, str]:
        """Instruments the plan names that this generator plays as something else, with what it
        plays instead (``{"harp": "guitar"}``); recorded in provenance and shown by the CLI."""
        return {}

    def score_for(self, request: GenerationRequest) -> Score | None:
        """The score ``generate`` plays for ``request`` (None for generators without one); the loop
        writes it as MIDI."""
        return None

    def describe(self) -> dict[str, Any]:
        """Backend details for provenance (model id, device...)."""
        return {"name": self.name, "sample_rate": self.sample_rate}
