"""A generator that follows prompts loosely, the way text-to-music models do.

:class:`ImperfectGenerator` wraps any :class:`~promptloop.synthesis.base.Generator` and, before
each request reaches it, rewrites the plan into the music a loosely adherent model would actually
make, then asks the wrapped generator for *that*.  The errors (documented in docs/evaluation.md,
"The imperfect-generator condition") are:

* **tempo**: pulled part of the way toward the genre's default tempo (systematic: the same prompt
  always lands on the same side), plus a per-candidate random error;
* **dropped instruments**: each named voice after the first is left out with some probability;
* **genre defaults creep in**: an instrument typical of the genre is added that was not asked for;
* **mode** sometimes flips, and brightness words are sometimes ignored.

Random draws are seeded from (model seed, request seed), so candidates differ in their errors, a
rerun is identical, and best-of-K has something to choose between.  :meth:`realised` tells the
harness what a candidate really contained (for the simulated listener's trigger sounds).

>>> AdherenceModel().tempo_sd_bpm
5.0
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from promptloop.feedback.planners.rule import write_prompt
from promptloop.representation.plan import MusicPlan
from promptloop.synthesis.base import GenerationRequest, Generator

__all__ = ["GENRE_DEFAULTS", "AdherenceModel", "ImperfectGenerator"]

#: The tempo and the instruments a text-to-music model falls back on for a genre.
GENRE_DEFAULTS: dict[str, tuple[float, tuple[str, ...]]] = {
    "ambient": (84.0, ("pads", "drone")),
    "cinematic": (100.0, ("strings", "drums")),
    "classical": (96.0, ("strings", "piano")),
    "electronic": (124.0, ("drums", "bass")),
    "folk": (100.0, ("guitar",)),
    "lofi": (84.0, ("drums", "piano")),
    "new age": (72.0, ("pads", "bells")),
    "": (110.0, ("drums", "piano")),  # no genre named
}
_REMEMBERED = 512


@dataclass(frozen=True)
class AdherenceModel:
    """How loosely the wrapped generator follows a plan (each number in docs/evaluation.md)."""

    tempo_pull: float = 0.35  # fraction of the way from the asked tempo to the genre default
    tempo_sd_bpm: float = 5.0  # per-candidate random tempo error
    drop_probability: float = 0.3  # per named voice after the first
    creep_probability: float = 0.35  # a genre-default instrument is added
    mode_flip_probability: float = 0.15
    brightness_ignored_probability: float = 0.5
    seed: int = 14

    def realise(self, plan: MusicPlan, request_seed: int) -> MusicPlan:
        """The plan as a loosely adherent model renders it (deterministic for the seeds)."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, request_seed]))
        default_tempo, default_voices = GENRE_DEFAULTS.get(plan.genre or "", GENRE_DEFAULTS[""])
        tempo = plan.tempo_bpm + self.tempo_pull * (default_tempo - plan.tempo_bpm) + rng.normal(0.0, self.tempo_sd_bpm)
        voices = list(plan.instruments)
        kept = voices[:1] + [v for v in voices[1:] if rng.random() >= self.drop_probability]
        creep = rng.random() < self.creep_probability
        extra = str(rng.choice(default_voices))
        if creep and extra not in kept:
            kept.append(extra)
        mode = plan.mode
        if rng.random() < self.mode_flip_probability:
            mode = "minor" if mode == "major" else "major"
        brightness = 0.5 if rng.random() < self.brightness_ignored_probability else plan.brightness
        return plan.model_copy(update={
            "tempo_bpm": float(np.clip(round(tempo), 40, 180)),
            "instruments": tuple(kept),
            "mode": mode,
            "brightness": brightness,
        })

    def describe(self) -> dict[str, Any]:
        return asdict(self)


class ImperfectGenerator(Generator):
    """``inner`` as a loosely adherent model: it renders what :class:`AdherenceModel` makes of
    each plan, not the plan itself."""

    def __init__(self, inner: Generator, model: AdherenceModel | None = None) -> None:
        self.inner = inner
        self.model = model or AdherenceModel()
        self.name = f"imperfect({inner.name})"
        self.sample_rate = inner.sample_rate
        self.prior_seconds = inner.prior_seconds
        self.batches_across_sessions = inner.batches_across_sessions
        self._realised: OrderedDict[int, MusicPlan] = OrderedDict()

    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        loose = []
        for request in requests:
            plan = self.model.realise(request.plan, request.seed)
            gentle = "gentle" in request.plan.prompt
            plan = plan.model_copy(update={"prompt": write_prompt(plan, gentle)})
            self._remember(request.seed, plan)
            loose.append(replace(request, plan=plan))
        return self.inner.generate(loose)

    def realised(self, seed: int) -> MusicPlan | None:
        """What the candidate generated with ``seed`` actually contained (recent requests only)."""
        return self._realised.get(seed)

    def _remember(self, seed: int, plan: MusicPlan) -> None:
        self._realised[seed] = plan
        while len(self._realised) > _REMEMBERED:
            self._realised.popitem(last=False)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "inner": self.inner.describe(), "adherence": self.model.describe()}
