"""The public API is pinned: adding or removing a name is a deliberate change."""

import promptloop

EXPECTED = {
    "EVALUATORS", "GENERATORS", "PLANNERS", "Affect", "BackendUnavailable", "Backends", "Baseline",
    "ConstraintViolation", "Evaluation", "Evaluator", "Feedback", "GenerationError", "GenerationRequest",
    "Generator", "InputError", "LoopSession", "MusicPlan", "PlanContext", "Planner", "Preferences",
    "PromptloopError", "Readings", "SessionSpec", "Settings", "StorageError", "build_backends",
    "estimate_affect", "iso_trajectory", "parse_affect", "run_session",
}


def test_all_is_pinned_and_importable():
    assert set(promptloop.__all__) == EXPECTED
    for name in promptloop.__all__:
        assert getattr(promptloop, name) is not None


def test_error_tree():
    assert issubclass(promptloop.ConstraintViolation, promptloop.InputError)
    for cls in (promptloop.InputError, promptloop.BackendUnavailable, promptloop.GenerationError, promptloop.StorageError):
        assert issubclass(cls, promptloop.PromptloopError)
    assert promptloop.InputError.exit_code == 2 and promptloop.GenerationError.exit_code == 1
