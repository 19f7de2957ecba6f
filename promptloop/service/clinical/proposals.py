"""Review before play: the planned path and first prompts of a programme step, the therapist's
decision, and the planner adapter that plays what was approved.

A proposal asks the step's own planner (the LLM planner, say) for the plans of the first few
segments along the path the loop will follow, each checked and repaired by the loop's own plan
check (:func:`~promptloop.representation.plan_checks.enforce_constraints`).  The therapist approves
it, edits prompts (checked the same way) or rejects it.  :class:`PinnedPlanner` then hands the
approved plans to the loop for those segments, drafts and rewrites alike (an approved prompt is not
rewritten; retries vary only the seed), and asks the inner planner for every other segment.
"""

from __future__ import annotations

from typing import Any

from promptloop.acquisition.affect import Affect
from promptloop.errors import ConstraintViolation, GenerationError, InputError
from promptloop.feedback.base import (
    ChatInterpreter,
    ChatState,
    ChatUpdate,
    Evaluation,
    PlanContext,
    Planner,
)
from promptloop.representation.plan import MusicPlan
from promptloop.representation.plan_checks import enforce_constraints
from promptloop.service.clinical.programmes import StepSpec
from promptloop.session.pacing import IsoPacer, PaceContext
from promptloop.wiring.builders import Backends

__all__ = ["PinnedPlanner", "edit_plans", "pinned", "planned_path", "propose"]


def planned_path(step: StepSpec, max_step: float) -> list[Affect]:
    """The waypoints the loop's pacer gives the step's session when nothing moves the listener or
    the target on the way (the pacer itself is asked, so the review shows what will play)."""
    pacer, start, target = IsoPacer(), step.start_affect(), step.target_affect()
    path: list[Affect] = []
    for index in range(step.segments):
        context = PaceContext(index=index, segments=step.segments, start=start, listener=start,
                              listener_fresh=index == 0, target=target, comfortable_step=max_step,
                              previous=path[-1] if path else None)
        path.append(pacer.next_waypoint(context).affect)
    return path


def propose(step: StepSpec, backends: Backends, max_step: float) -> dict[str, Any]:
    """Waypoints for every segment and the first ``step.preview`` plans, as JSON-ready data."""
    start, target, prefs = step.start_affect(), step.target_affect(), step.preferences()
    waypoints = planned_path(step, max_step)
    plans: list[dict[str, Any]] = []
    previous: MusicPlan | None = None
    for index in range(min(step.preview, step.segments)):
        context = PlanContext(segment_index=index, segments=step.segments, segment_seconds=step.segment_seconds,
                              waypoint=waypoints[index], listener=start, target=target, preferences=prefs,
                              previous_plan=previous, max_step=max_step)
        reason = None
        try:
            plan = backends.planner.draft(context)
            if not isinstance(plan, MusicPlan):
                raise GenerationError(f"planner returned {type(plan).__name__}, not a plan")
            plan, _repairs = enforce_constraints(plan, prefs)  # the loop's own check for every plan
            planner = backends.planner.name
        except (ConstraintViolation, GenerationError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            plan, _repairs = enforce_constraints(backends.fallback_planner.draft(context), prefs)
            planner = f"{backends.fallback_planner.name} (fallback)"
        plans.append({"index": index, "planner": planner, "fallback": reason, "prompt": plan.prompt,
                      "plan": plan.model_dump(mode="json")})
        previous = plan
    return {"waypoints": [w.to_dict() for w in waypoints], "plans": plans}


def edit_plans(body: dict[str, Any], edits: list[dict[str, Any]], step: StepSpec) -> dict[str, Any]:
    """``body`` with the therapist's prompt edits applied, each checked like a planner's plan."""
    preferences = step.preferences()
    plans = {p["index"]: dict(p) for p in body["plans"]}
    for edit in edits:
        index = edit["index"]
        if index not in plans:
            raise InputError(f"the proposal has no plan for segment {index}")
        changed = {k: v for k, v in edit.items() if k != "index" and v is not None}
        try:
            plan = MusicPlan.model_validate({**plans[index]["plan"], **changed})
        except ValueError as exc:
            raise InputError(f"segment {index}: {exc}") from None
        plan, _repairs = enforce_constraints(plan, preferences)  # ConstraintViolation is an InputError: 422
        plans[index].update(prompt=plan.prompt, plan=plan.model_dump(mode="json"), planner="therapist", fallback=None)
    return {**body, "plans": [plans[i] for i in sorted(plans)]}


class PinnedPlanner(Planner):
    """``inner`` with the therapist-approved plans of some segments fixed."""

    def __init__(self, inner: Planner, plans: dict[int, MusicPlan]) -> None:
        self.inner, self.plans = inner, dict(plans)
        self.name = inner.name

    def draft(self, context: PlanContext) -> MusicPlan:
        pinned = self.plans.get(context.segment_index)
        return pinned if pinned is not None else self.inner.draft(context)

    def revise(self, plan: MusicPlan, evaluation: Evaluation, context: PlanContext) -> MusicPlan:
        pinned = self.plans.get(context.segment_index)
        return pinned if pinned is not None else self.inner.revise(plan, evaluation, context)

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "approved_segments": sorted(self.plans)}


class _PinnedChatPlanner(PinnedPlanner, ChatInterpreter):
    """A pinned planner whose inner planner also reads chat (the LLM planner)."""

    def interpret_chat(self, message: str, state: ChatState) -> ChatUpdate | None:
        assert isinstance(self.inner, ChatInterpreter)
        return self.inner.interpret_chat(message, state)


def pinned(inner: Planner, stored: dict[str, Any]) -> Planner:
    """The loop's planner for a session with approved plans ``{"<index>": plan JSON}``."""
    if not stored:
        return inner
    plans = {int(k): MusicPlan.model_validate(v) for k, v in stored.items()}
    cls = _PinnedChatPlanner if isinstance(inner, ChatInterpreter) else PinnedPlanner
    return cls(inner, plans)
