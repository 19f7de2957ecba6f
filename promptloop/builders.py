"""The one place that turns settings and per-call choices into ready backend objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promptloop.interfaces import Evaluator, Generator, Planner
from promptloop.registry import EVALUATORS, GENERATORS, PLANNERS
from promptloop.settings import Settings

__all__ = ["Backends", "build_backends"]


@dataclass
class Backends:
    generator: Generator
    planner: Planner
    evaluator: Evaluator
    fallback_planner: Planner


def build_backends(
    settings: Settings,
    *,
    generator: str | None = None,
    planner: str | None = None,
    evaluator: str | None = None,
    generator_options: dict[str, Any] | None = None,
    planner_options: dict[str, Any] | None = None,
    evaluator_options: dict[str, Any] | None = None,
) -> Backends:
    """Build the three backends by name; the rule planner is always the fallback planner."""
    gen = GENERATORS.create(generator or settings.generator, **(generator_options or {}))
    plan = PLANNERS.create(planner or settings.planner, **(planner_options or {}))
    ev = EVALUATORS.create(evaluator or settings.evaluator, **(evaluator_options or {}))
    fallback = PLANNERS.create("rule")
    return Backends(gen, plan, ev, fallback)
