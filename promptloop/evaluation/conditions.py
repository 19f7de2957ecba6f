"""The conditions the harness compares on the same scenarios and seeds.

* ``static`` — no loop: one plan, drafted once for the session's target, rendered for every
  segment; one candidate, no retries, no trajectory.  Same generator, stitching, loudness
  normalisation and limiter as the loop, so only the planning loop differs.
* ``loop-no-retry`` — the iso trajectory and best-of-K candidates, but no rewritten prompts.
* ``loop-rule`` — the full loop with the rule planner (K candidates, retries below the threshold).
* ``loop-llm`` — the full loop with the LLM planner; run only when an LLM is configured.
* ``loop-rule-closed`` — ``loop-rule`` reading the simulated listener (digital twin) between
  segments as biofeedback; every other condition plays to the twin without listening (open loop).
* ``static-imperfect``, ``loop-no-retry-imperfect``, ``loop-rule-imperfect`` — the same three with the
  generator wrapped in :class:`~promptloop.evaluation.imperfect.ImperfectGenerator`, a seeded model
  of how loosely text-to-music models follow prompts: do best-of-K and rewrites recover the music
  the plan intended when the generator does not simply obey?
* ``loop-rule-imperfect-gated`` — ``loop-rule-imperfect`` with the seed-only retry gate: a retry is
  made only when the rewrite changes the plan (``SessionSpec.skip_seed_only_retries``); a retry that
  would only draw new seeds for the same plan is skipped.  Does the loop keep the independent check
  with the compute it spends where a rewrite can correct something?
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from promptloop.errors import InputError
from promptloop.feedback.base import Evaluation, PlanContext, Planner
from promptloop.representation.plan import MusicPlan
from promptloop.session.pacing import Pacer
from promptloop.wiring.settings import Settings

__all__ = ["CONDITIONS", "Condition", "StaticPlanner", "default_conditions", "llm_configured", "select_conditions"]


class StaticPlanner(Planner):
    """Drafts one plan for the session's target and returns it for every segment.

    It sees the target only (not the waypoint nor the listener): the "single static prompt" that
    iterative prompting claims to beat.
    """

    name = "static"

    def __init__(self, inner: Planner) -> None:
        self.inner = inner
        self._plan: MusicPlan | None = None

    def draft(self, context: PlanContext) -> MusicPlan:
        if self._plan is None:
            at_target = replace(context, segment_index=0, waypoint=context.target, listener=context.target,
                                previous_plan=None)
            self._plan = self.inner.draft(at_target)
        return self._plan

    def revise(self, plan: MusicPlan, evaluation: Evaluation, context: PlanContext) -> MusicPlan:
        return plan  # never asked: the static condition has no retries

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "inner": self.inner.describe()}


@dataclass(frozen=True)
class Condition:
    name: str
    description: str
    planner: str  # registry name of the planner
    static: bool = False
    retries: bool = True
    closed_loop: bool = False
    #: Builds the session's pacer (one per session); None: the loop's default (IsoPacer).
    pacer: Callable[[], Pacer] | None = None

    def make_pacer(self) -> Pacer | None:
        return self.pacer() if self.pacer is not None else None
    imperfect: bool = False  # the generator wrapped in the prompt-adherence error model
    retry_gate: bool = False  # skip retries whose rewrite leaves the plan unchanged

    def session_settings(self, base: dict[str, Any]) -> dict[str, Any]:
        """The scenario's session settings as this condition runs them."""
        chosen = dict(base)
        if self.static:
            chosen["candidates"] = 1
            chosen["max_retries"] = 0
        elif not self.retries:
            chosen["max_retries"] = 0
        return chosen


CONDITIONS: dict[str, Condition] = {
    c.name: c
    for c in (
        Condition("static", "one plan at the target for the whole session; 1 candidate, no retries",
                  "rule", static=True, retries=False),
        Condition("loop-no-retry", "iso trajectory, best of K candidates, no rewritten prompts",
                  "rule", retries=False),
        Condition("loop-rule", "full loop with the rule planner (K candidates, retries)", "rule"),
        Condition("loop-llm", "full loop with the LLM planner (rule planner as fallback)", "llm"),
        Condition("loop-rule-closed", "full loop with the rule planner, reading the digital twin "
                  "as biofeedback between segments", "rule", closed_loop=True),
        Condition("static-imperfect", "static, with a generator that follows prompts loosely "
                  "(evaluation.imperfect)", "rule", static=True, retries=False, imperfect=True),
        Condition("loop-no-retry-imperfect", "loop-no-retry, with the loosely adherent generator", "rule",
                  retries=False, imperfect=True),
        Condition("loop-rule-imperfect", "loop-rule, with the loosely adherent generator", "rule", imperfect=True),
        Condition("loop-rule-imperfect-gated", "loop-rule-imperfect, retrying only when the rewrite changes the "
                  "plan (seed-only retries skipped)", "rule", imperfect=True, retry_gate=True),
    )
}


def llm_configured(settings: Settings) -> bool:
    """True when an LLM was set up (provider or model given in the environment or ``.env``) and
    its extra is installed; the defaults alone (a local Ollama) do not count."""
    from promptloop.wiring.registry import PLANNERS

    if not ({"llm_provider", "llm_model", "llm_base_url"} & settings.model_fields_set):
        return False
    return any(s.name == "llm" and s.usable for s in PLANNERS.status(settings))


def default_conditions(settings: Settings) -> list[str]:
    # The closed loop is judged on the twin population (evaluation.twin_sessions), not by
    # loop-rule-closed's single twin; that condition stays available by name.
    names = ["static", "loop-no-retry", "loop-rule", "static-imperfect", "loop-no-retry-imperfect",
             "loop-rule-imperfect", "loop-rule-imperfect-gated"]
    if llm_configured(settings):
        names.insert(3, "loop-llm")
    return names


def select_conditions(names: list[str] | None, settings: Settings) -> list[Condition]:
    """Conditions by name (comma-separated lists allowed); None → :func:`default_conditions`."""
    if not names:
        names = default_conditions(settings)
    flat = [n.strip() for name in names for n in name.split(",") if n.strip()]
    unknown = [n for n in flat if n not in CONDITIONS]
    if unknown:
        raise InputError(f"unknown condition(s) {', '.join(unknown)}; choose from: {', '.join(CONDITIONS)}")
    if len(set(flat)) != len(flat):
        raise InputError("each condition may be named once")
    return [CONDITIONS[n] for n in flat]
