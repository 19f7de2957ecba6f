"""A session's loop settings: their defaults and bounds, in one place.

:class:`~promptloop.session.loop.SessionSpec` takes its defaults from here, and so does
:class:`~promptloop.wiring.settings.Settings`, so the two cannot drift apart.  Kept free of heavy
imports: the settings module reads it at start-up.
"""

from __future__ import annotations

__all__ = ["LIMITS", "LOOP_DEFAULTS", "SKIP_SEED_ONLY_RETRIES"]

# Bounds on what one session may ask for; the CLI, API and playlist specs all enforce these.
LIMITS: dict[str, tuple[float, float]] = {
    "segments": (1, 64),
    "segment_seconds": (2.0, 30.0),
    "candidates": (1, 8),
    "max_retries": (0, 5),
    "threshold": (0.0, 1.0),
    "crossfade_seconds": (0.0, 4.0),
    "max_step": (0.05, 2.0),
}

LOOP_DEFAULTS: dict[str, float] = {
    "candidates": 2,
    "threshold": 0.85,
    "max_retries": 1,
    "max_step": 0.5,
    "crossfade_seconds": 1.0,
}

#: Skip a retry whose rewrite leaves the plan as it was (docs/evaluation.md, "Retries: the seed-only gate").
SKIP_SEED_ONLY_RETRIES = True
