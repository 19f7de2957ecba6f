"""The one place that turns settings and per-call choices into ready backend objects and specs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptloop.feedback.base import Evaluator, Planner
from promptloop.synthesis.base import Generator
from promptloop.wiring.registry import DEFAULT, Registries
from promptloop.wiring.settings import Settings

if TYPE_CHECKING:
    from promptloop.session.loop import SessionSpec

__all__ = ["Backends", "build_backends", "spec_from_settings"]


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
    registries: Registries | None = None,
) -> Backends:
    """Build the three backends by name; the rule planner is always the fallback planner."""
    regs = registries or DEFAULT
    gen = regs.generators.create(generator or settings.generator, settings, **(generator_options or {}))
    plan = regs.planners.create(planner or settings.planner, settings, **(planner_options or {}))
    ev = regs.evaluators.create(evaluator or settings.evaluator, settings, **(evaluator_options or {}))
    fallback = regs.planners.create("rule", settings)
    return Backends(gen, plan, ev, fallback)


def spec_from_settings(settings: Settings, **fields: Any) -> SessionSpec:
    """A :class:`SessionSpec` whose loop settings come from ``settings``; ``fields`` (start, target,
    preferences, segments, per-call overrides...) win.  A field given as None takes the setting."""
    from promptloop.session.loop import SessionSpec

    loop_fields = {
        "candidates": settings.candidates,
        "threshold": settings.threshold,
        "max_retries": settings.max_retries,
        "crossfade_seconds": settings.crossfade_seconds,
        "max_step": settings.max_step,
        "skip_seed_only_retries": not settings.seed_only_retries,
    }
    given = {k: v for k, v in fields.items() if v is not None}
    return SessionSpec(**{**loop_fields, **given})
