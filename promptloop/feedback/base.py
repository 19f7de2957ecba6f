"""The feedback layer's interfaces: a planner writes and rewrites plans, an evaluator scores audio.

Backends adapt an outside library (or the embedded defaults) to these; the loop only ever talks to
these interfaces, so any backend registered by name can take part.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from promptloop.acquisition.affect import Affect
from promptloop.audio.analysis import Descriptors
from promptloop.representation.plan import MusicPlan
from promptloop.representation.preferences import Preferences

__all__ = [
    "ChatInterpreter",
    "ChatState",
    "ChatUpdate",
    "Evaluation",
    "Evaluator",
    "Feedback",
    "PlanContext",
    "Planner",
]

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

    def warm_up(self) -> None:  # noqa: B027 - optional hook; most evaluators load nothing lazily
        """Load whatever :meth:`evaluate` would load on first need (a long-running service calls
        this before its first listener, so no session stalls on a model load)."""

    def cache_system_texts(self) -> tuple[int, int]:
        """Store, across processes, whatever this evaluator derives from its own texts, so that a
        later process never has to (``promptloop warm-up`` calls it at setup).  Returns (texts
        covered, texts newly computed); ``(0, 0)`` for evaluators that keep nothing."""
        return 0, 0

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


class ChatUpdate(BaseModel):
    """What one chat message changes; empty fields change nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    understood: bool = False
    source: Literal["rule", "llm", "none"] = "none"
    feeling: str | None = Field(default=None, description="the listener's state now, an affect word")
    listener_shift: tuple[float, float] | None = Field(default=None, description="(valence, arousal) change")
    target: str | None = Field(default=None, description="new session target, an affect word")
    target_shift: tuple[float, float] | None = None
    loudness_db: float | None = Field(default=None, description="ceiling change in dB (negative = quieter)")
    avoid: tuple[str, ...] = ()
    prefer: tuple[str, ...] = ()
    unprefer: tuple[str, ...] = ()
    gentle: bool | None = None
    like_segment: int | None = Field(default=None, description="0-based index of a segment to resemble")


@dataclass(frozen=True)
class ChatState:
    """What the interpreter may know about the session (no audio, no raw readings)."""

    listener: Affect
    target: Affect
    preferences: Preferences
    segments: tuple[MusicPlan, ...] = ()
    ceiling_cap_lufs: float | None = None  # the ceiling the session started with


class ChatInterpreter(abc.ABC):
    """Reads a listener's free-text message into a structured update (the LLM planner is one).

    The rule reader in :mod:`promptloop.feedback.chat_rules` handles common messages offline; an
    interpreter is asked only for what the rules cannot read.  Returning None means "not understood".
    """

    @abc.abstractmethod
    def interpret_chat(self, message: str, state: ChatState) -> ChatUpdate | None:
        """The update ``message`` asks for, or None."""
