"""What defines a session's music, backends excluded: the :class:`SessionSpec` the loop runs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from promptloop.acquisition.affect import Affect
from promptloop.errors import InputError
from promptloop.representation.preferences import Preferences
from promptloop.session.defaults import LIMITS, LOOP_DEFAULTS, SKIP_SEED_ONLY_RETRIES

__all__ = ["SessionSpec", "with_prior"]


@dataclass(frozen=True)
class SessionSpec:
    """Everything that defines a session's music (backends excluded)."""

    start: Affect
    target: Affect
    preferences: Preferences = field(default_factory=Preferences)
    segments: int = 6
    segment_seconds: float = 10.0
    seed: int = 0
    candidates: int = int(LOOP_DEFAULTS["candidates"])
    threshold: float = LOOP_DEFAULTS["threshold"]
    max_retries: int = int(LOOP_DEFAULTS["max_retries"])
    max_step: float = LOOP_DEFAULTS["max_step"]
    crossfade_seconds: float = LOOP_DEFAULTS["crossfade_seconds"]
    #: Skip a retry whose rewrite left the plan as it was (it would only draw new seeds).  On by
    #: default since two core reports in a row showed the gated loop keeps the independent check with
    #: about half the retries (docs/evaluation.md, "Retries: the seed-only gate").
    skip_seed_only_retries: bool = SKIP_SEED_ONLY_RETRIES
    prior: np.ndarray | None = field(default=None, repr=False, compare=False)
    prior_name: str | None = None

    def __post_init__(self) -> None:
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise InputError(f"{name} must be a number, got {value!r}")
            if not low <= value <= high:
                raise InputError(f"{name} must be within [{low}, {high}], got {value}")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise InputError(f"seed must be an integer in [0, 2**32), got {self.seed!r}")
        if self.crossfade_seconds >= self.segment_seconds / 2:
            raise InputError("crossfade must be shorter than half a segment")

    def settings(self) -> dict[str, Any]:
        return {
            "segments": self.segments,
            "segment_seconds": self.segment_seconds,
            "candidates": self.candidates,
            "threshold": self.threshold,
            "max_retries": self.max_retries,
            "max_step": self.max_step,
            "crossfade_seconds": self.crossfade_seconds,
            **({} if self.skip_seed_only_retries else {"skip_seed_only_retries": False}),
        }


def with_prior(spec: SessionSpec, prior: np.ndarray, name: str) -> SessionSpec:
    """The same session, continuing the listener's own audio ``prior`` (named ``name``)."""
    return replace(spec, prior=prior, prior_name=name)
