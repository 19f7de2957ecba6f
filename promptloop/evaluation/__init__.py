"""The evaluation harness: does the loop actually help?

Scenario suites (:mod:`~promptloop.evaluation.scenarios`), the conditions compared
(:mod:`~promptloop.evaluation.conditions`), metrics including an independent literature-based check
(:mod:`~promptloop.evaluation.metrics`), statistics (:mod:`~promptloop.evaluation.stats`), a
simulated listener (:mod:`~promptloop.evaluation.twin`), an optional CLAP metric
(:mod:`~promptloop.feedback.evaluators.clap`) and the report (:mod:`~promptloop.evaluation.report`).
``promptloop eval SUITE --out DIR`` runs it all (:func:`~promptloop.evaluation.run.run_eval`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_eval"]


def run_eval(*args: Any, **kwargs: Any) -> Any:
    """See :func:`promptloop.evaluation.run.run_eval` (imported lazily: it pulls in the backends)."""
    from promptloop.evaluation.run import run_eval as _run_eval

    return _run_eval(*args, **kwargs)
