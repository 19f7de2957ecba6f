"""promptloop: therapeutic music that adapts to a listener.

>>> from promptloop import parse_affect, SessionSpec, build_backends, run_session, Settings
>>> backends = build_backends(Settings())                          # doctest: +SKIP
>>> spec = SessionSpec(start=parse_affect("anxious"), target=parse_affect("calm"))
>>> session = run_session(spec, backends.generator, backends.planner, backends.evaluator)  # doctest: +SKIP
"""

__version__ = "0.1.0"  # before the imports: promptloop.loop records it in provenance

from promptloop.affect import Affect, parse_affect
from promptloop.builders import Backends, build_backends
from promptloop.errors import (
    BackendUnavailable,
    ConstraintViolation,
    GenerationError,
    InputError,
    PromptloopError,
    StorageError,
)
from promptloop.interfaces import Evaluation, Evaluator, Feedback, GenerationRequest, Generator, PlanContext, Planner
from promptloop.loop import LoopSession, SessionSpec, run_session
from promptloop.physio import Baseline, Readings, estimate_affect
from promptloop.plan import MusicPlan
from promptloop.preferences import Preferences
from promptloop.registry import EVALUATORS, GENERATORS, PLANNERS
from promptloop.settings import Settings
from promptloop.trajectory import iso_trajectory

__all__ = [
    "EVALUATORS",
    "GENERATORS",
    "PLANNERS",
    "Affect",
    "BackendUnavailable",
    "Backends",
    "Baseline",
    "ConstraintViolation",
    "Evaluation",
    "Evaluator",
    "Feedback",
    "GenerationError",
    "GenerationRequest",
    "Generator",
    "InputError",
    "LoopSession",
    "MusicPlan",
    "PlanContext",
    "Planner",
    "Preferences",
    "PromptloopError",
    "Readings",
    "SessionSpec",
    "Settings",
    "StorageError",
    "build_backends",
    "estimate_affect",
    "iso_trajectory",
    "parse_affect",
    "run_session",
]
