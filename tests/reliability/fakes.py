"""Misbehaving backends, registered by name in the real registry (no patching): a generator that
raises, one that hangs until released, ones that return garbage; planners that raise or return
garbage.  Sessions pick them with ``"generator": "rel-raise"`` and so on, as a real backend would be
picked."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from promptloop.errors import GenerationError
from promptloop.feedback.base import Evaluation, PlanContext, Planner
from promptloop.feedback.planners.rule import RulePlanner
from promptloop.representation.plan import MusicPlan
from promptloop.synthesis.base import GenerationRequest, Generator
from promptloop.wiring.registry import Registries

RELEASE = threading.Event()  # lets every hanging generator return


def _tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


class RaisingGenerator(Generator):
    name = "rel-raise"

    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        raise RuntimeError("synthetic generator failure")


class HangingGenerator(Generator):
    name = "rel-hang"

    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        RELEASE.wait(timeout=120)
        return [_tone(r.duration_s, self.sample_rate) for r in requests]


class GarbageGenerator(Generator):
    """``kind``: nan (NaN samples), inf, empty, count (one clip too few), stereo (2-D), text."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = f"rel-garbage-{kind}"

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Any]:
        clips = [_tone(r.duration_s, self.sample_rate) for r in requests]
        if self.kind == "nan":
            clips[0][100:200] = np.nan
        elif self.kind == "inf":
            clips[0][5] = np.inf
        elif self.kind == "empty":
            clips = [np.zeros(0, np.float32) for _ in clips]
        elif self.kind == "count":
            clips = clips[:-1]
        elif self.kind == "stereo":
            clips = [np.stack([c, c]) for c in clips]
        elif self.kind == "text":
            clips = ["not audio" for _ in clips]
        return clips


class RaisingPlanner(Planner):
    """Fails the way a remote planner fails (GenerationError): the loop falls back to the rule planner."""

    name = "rel-plan-raise"

    def draft(self, context: PlanContext) -> MusicPlan:
        raise GenerationError("synthetic planner outage")

    def revise(self, plan: MusicPlan, evaluation: Evaluation, context: PlanContext) -> MusicPlan:
        raise GenerationError("synthetic planner outage")


class CrashingPlanner(RaisingPlanner):
    """Fails with a bug (not a GenerationError): the job fails, the worker lives on."""

    name = "rel-plan-crash"

    def draft(self, context: PlanContext) -> MusicPlan:
        raise ZeroDivisionError("synthetic planner bug")


class GarbagePlanner(Planner):
    """Returns something that is not a plan, or a plan that plays what the listener avoids."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = f"rel-plan-{kind}"
        self._rule = RulePlanner()

    def _bad(self, context: PlanContext) -> Any:
        if self.kind == "notaplan":
            return {"prompt": 42}
        good = self._rule.draft(context)
        avoided = sorted(context.preferences.forbidden) or ["drums"]
        return good.model_copy(update={"prompt": f"{good.prompt}, loud {avoided[0]}"})

    def draft(self, context: PlanContext) -> Any:
        return self._bad(context)

    def revise(self, plan: MusicPlan, evaluation: Evaluation, context: PlanContext) -> Any:
        return self._bad(context)


class EchoPlanner(Planner):
    """The rule planner's plan with the listener's own extra words added to the prompt, as an LLM
    planner would write them (so they reach the generator's embedding step)."""

    name = "rel-plan-echo"

    def __init__(self) -> None:
        self._rule = RulePlanner()

    def _echo(self, plan: MusicPlan, context: PlanContext) -> MusicPlan:
        extra = ", ".join(context.preferences.extra)
        return plan.model_copy(update={"prompt": f"{plan.prompt}, {extra}" if extra else plan.prompt})

    def draft(self, context: PlanContext) -> MusicPlan:
        return self._echo(self._rule.draft(context), context)

    def revise(self, plan: MusicPlan, evaluation: Evaluation, context: PlanContext) -> MusicPlan:
        return self._echo(self._rule.revise(plan, evaluation, context), context)


def register_fakes(registries: Registries) -> None:
    """Register the misbehaving backends in ``registries`` (a fresh table, never the global one)."""
    generators, planners = registries.generators, registries.planners
    generators.register("rel-raise", lambda settings: RaisingGenerator(), description="test: raises")
    generators.register("rel-hang", lambda settings: HangingGenerator(), description="test: hangs until released")
    for kind in ("nan", "inf", "empty", "count", "stereo", "text"):
        generators.register(f"rel-garbage-{kind}", lambda settings, kind=kind: GarbageGenerator(kind),
                            description=f"test: returns {kind}")
    planners.register("rel-plan-raise", lambda settings: RaisingPlanner(), description="test: raises GenerationError")
    planners.register("rel-plan-crash", lambda settings: CrashingPlanner(), description="test: raises a bug")
    planners.register("rel-plan-echo", lambda settings: EchoPlanner(), description="test: the listener's words in the prompt")
    for kind in ("notaplan", "forbidden"):
        planners.register(f"rel-plan-{kind}", lambda settings, kind=kind: GarbagePlanner(kind), description=f"test: {kind}")
