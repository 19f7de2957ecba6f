"""Settings plus per-call choices (CLI flags, API fields) turned into one backend's options."""

from __future__ import annotations

from typing import Any

from promptloop.errors import InputError
from promptloop.wiring.settings import Settings

__all__ = ["llm_options", "planner_options_for"]


def llm_options(
    settings: Settings,
    *,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
) -> dict[str, Any]:
    """Planner options from settings, overridden by per-call choices (CLI flags, API fields)."""
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else None
    return {
        "provider": provider or settings.llm_provider,
        "model": model or settings.llm_model,
        "base_url": base_url or settings.llm_base_url,
        "api_key": key,
        "timeout": settings.llm_timeout,
        "retries": settings.llm_retries,
        "temperature": settings.llm_temperature,
        "max_tokens": settings.llm_max_tokens,
    }


def planner_options_for(
    settings: Settings,
    planner: str | None,
    *,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
) -> dict[str, Any]:
    """Options for ``build_backends(planner_options=...)``: the llm settings when the planner is
    ``llm``; ``--llm-*`` flags given for another planner are an input error."""
    if (planner or settings.planner) == "llm":
        return llm_options(settings, provider=provider, model=model, base_url=base_url)
    if any(v is not None for v in (provider, model, base_url)):
        raise InputError("--llm-provider, --llm-model and --llm-base-url apply to --planner llm")
    return {}
