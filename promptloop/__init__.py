"""promptloop: therapeutic music that adapts to a listener.

>>> from promptloop import parse_affect, SessionSpec, build_backends, run_session, Settings
>>> backends = build_backends(Settings())                          # doctest: +SKIP
>>> spec = SessionSpec(start=parse_affect("anxious"), target=parse_affect("calm"))
>>> session = run_session(spec, backends.generator, backends.planner, backends.evaluator)  # doctest: +SKIP
"""

from promptloop._version import __version__ as __version__
from promptloop.acquisition.affect import Affect, parse_affect
from promptloop.acquisition.physio import Baseline, Readings, estimate_affect
from promptloop.errors import (
    BackendUnavailable,
    ConstraintViolation,
    GenerationError,
    InputError,
    PromptloopError,
    StorageError,
)
from promptloop.feedback.base import (
    Evaluation,
    Evaluator,
    Feedback,
    PlanContext,
    Planner,
)
from promptloop.representation.plan import MusicPlan
from promptloop.representation.preferences import Preferences
from promptloop.representation.trajectory import iso_trajectory
from promptloop.session.loop import LoopSession, SessionSpec, run_session
from promptloop.synthesis.base import GenerationRequest, Generator
from promptloop.wiring.builders import Backends, build_backends
from promptloop.wiring.registry import EVALUATORS, GENERATORS, PLANNERS
from promptloop.wiring.settings import Settings

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
