"""One small interface per layer: generator, planner, evaluator.

Backends adapt an outside library (or the embedded defaults) to these; the loop only ever talks to
these interfaces, so any backend registered by name can take part.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from promptloop.affect import Affect
from promptloop.audio.analysis import Descriptors
from promptloop.plan import MusicPlan
from promptloop.preferences import Preferences

__all__ = [
    "Evaluation",
    "Evaluator",
    "Feedback",
    "GenerationRequest",
    "Generator",
    "PlanContext",
    "Planner",
]


@dataclass(frozen=True)
class GenerationRequest:
    """Generate ``duration_s`` seconds that continue ``prior`` (mono, at the generator's rate)."""

    plan: MusicPlan
    duration_s: float
    seed: int
    prior: np.ndarray | None = None
    prior_plan: MusicPlan | None = None


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

    def describe(self) -> dict[str, Any]:
        """Backend details for provenance (model id, device...)."""
        return {"name": self.name, "sample_rate": self.sample_rate}


@dataclass(frozen=True)
class PlanContext:
    """What a planner knows when it writes a segment's plan."""

    segment_index: int
    segments: int
    segment_seconds: float
    waypoint: Affect  # where this segment should sit on the circumplex
    listener: Affect  # current estimate of the listener's state
    target: Affect  # where the session is heading
    preferences: Preferences
    previous_plan: MusicPlan | None = None
    max_step: float = 0.5


@dataclass(frozen=True)
class Feedback:
    """One finding of the evaluator, e.g. tempo measured 20 BPM faster than wanted."""

    attribute: str  # tempo | loudness | density | brightness | mode | transients | constraint
    direction: str  # "lower" | "higher" | "remove" | "change"
    measured: float | str | None
    wanted: float | str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "direction": self.direction,
            "measured": self.measured,
            "wanted": self.wanted,
            "message": self.message,
        }


@dataclass(frozen=True)
class Evaluation:
    """How well one candidate matches its target; every component is reported."""

    score: float
    components: dict[str, float]
    descriptors: Descriptors
    estimated: Affect
    caption: str
    feedback: tuple[Feedback, ...] = ()
    violations: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


class Planner(abc.ABC):
    """Writes a segment's plan and rewrites it from the evaluator's feedback."""

    name: str = "planner"

    @abc.abstractmethod
    def draft(self, context: PlanContext) -> MusicPlan:
        """The first plan for a segment."""

    @abc.abstractmethod
    def revise(self, plan: MusicPlan, evaluation: Evaluation, context: PlanContext) -> MusicPlan:
        """A better plan, given how the last attempt measured."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


class Evaluator(abc.ABC):
    """Scores how well audio matches a plan's target."""

    name: str = "evaluator"

    @abc.abstractmethod
    def evaluate(
        self, audio: np.ndarray, sample_rate: int, plan: MusicPlan, context: PlanContext
    ) -> Evaluation:
        """Measure and score one candidate."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}
