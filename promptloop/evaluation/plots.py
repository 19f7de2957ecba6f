"""The report's PNG plots: score by iteration, planned vs measured trajectories, per-quadrant
results, and the digital twin's distance to the target over time."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from promptloop.audio.io import atomic_write_bytes
from promptloop.evaluation.stats import mean_ci

__all__ = ["plot_all"]

_QUADRANTS = ("V+A+", "V-A+", "V-A-", "V+A-")
# Scenarios drawn in the trajectory plot when present (one per start quadrant).
_SHOWCASE = ("anxious-to-calm", "sad-to-happy", "calm-to-energized", "happy-to-calm")


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _errorline(ax: Any, groups: list[list[float]], label: str, offset: float = 0.0) -> None:
    stats = [mean_ci(g) for g in groups]
    x = np.arange(len(groups)) + offset
    ax.errorbar(x, [s.mean for s in stats], yerr=[0 if s.n < 2 else s.half_width for s in stats],
                marker="o", capsize=3, label=label)


def plot_all(folder: Path, sessions: Sequence[dict[str, Any]], summary: dict[str, Any],
             conditions: Sequence[str]) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths: dict[str, Path] = {}
    by_condition = {c: [s for s in sessions if s["condition"] == c] for c in conditions}

    # Score by iteration: per segment index, and per retry attempt.
    fig, (ax_seg, ax_try) = plt.subplots(1, 2, figsize=(11, 4))
    for i, c in enumerate(conditions):
        rows = by_condition[c]
        n = max((len(s["segments"]) for s in rows), default=0)
        _errorline(ax_seg, [[s["segments"][k]["loop_score"] for s in rows if len(s["segments"]) > k] for k in range(n)],
                   c, offset=0.04 * i)
        attempts = [seg["attempt_scores"] for s in rows for seg in s["segments"] if len(seg["attempt_scores"]) > 1]
        if attempts:
            m = max(len(a) for a in attempts)
            _errorline(ax_try, [[a[k] for a in attempts if len(a) > k] for k in range(m)],
                       f"{c} ({len(attempts)} retried segments)", offset=0.04 * i)
    ax_seg.set(xlabel="segment", ylabel="loop's own score", title="loop score by segment (mean ± 95% CI)")
    ax_seg.xaxis.get_major_locator().set_params(integer=True)
    ax_try.xaxis.get_major_locator().set_params(integer=True)
    ax_try.set(xlabel="attempt (0 = first plan)", ylabel="best candidate's score",
               title="score by retry, segments that retried")
    ax_seg.legend(fontsize=7)
    if ax_try.lines:
        ax_try.legend(fontsize=7)
    else:
        ax_try.text(0.5, 0.5, "no segment retried", ha="center", transform=ax_try.transAxes)
    fig.tight_layout()
    paths["score_by_iteration.png"] = _save(fig, folder / "score_by_iteration.png")

    # Planned vs measured trajectories on the circumplex for a few scenarios (first seed).
    present = [s for s in _SHOWCASE if any(r["scenario"] == s for r in sessions)]
    if not present:
        present = sorted({r["scenario"] for r in sessions})[:4]
    fig, axes = plt.subplots(1, len(present), figsize=(3.6 * len(present), 3.8), squeeze=False)
    first_seed = min(r["seed"] for r in sessions)
    for ax, scenario in zip(axes[0], present, strict=False):
        ref = None
        for c in conditions:
            row = next((r for r in by_condition[c] if r["scenario"] == scenario and r["seed"] == first_seed), None)
            if row is None:
                continue
            ref = np.array([[s["reference"]["valence"], s["reference"]["arousal"]] for s in row["segments"]])
            est = np.array([[s["estimated"]["valence"], s["estimated"]["arousal"]] for s in row["segments"]])
            ax.plot(est[:, 0], est[:, 1], "s--", ms=4, label=f"{c} measured")
        if ref is not None:
            ax.plot(ref[:, 0], ref[:, 1], "k-o", lw=2, label="planned iso path")
            ax.scatter([ref[0, 0]], [ref[0, 1]], color="k", marker="^", s=60, zorder=5)
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set(xlim=(-1, 1), ylim=(-1, 1), xlabel="valence", ylabel="arousal", title=scenario)
    axes[0][0].legend(fontsize=6, loc="lower left")
    fig.suptitle(f"planned (iso path) vs measured affect per segment (loop's estimator; seed {first_seed})", fontsize=9)
    fig.tight_layout()
    paths["trajectories.png"] = _save(fig, folder / "trajectories.png")

    # Per-quadrant independent check.
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=True)
    width = 0.8 / max(1, len(conditions))
    for ax, key, title in ((axes[0], "per_target_quadrant", "vs iso path, by target quadrant"),
                           (axes[1], "per_start_quadrant", "vs iso path, by start quadrant"),
                           (axes[2], "per_target_quadrant_final", "final segment vs target, by target quadrant")):
        for i, c in enumerate(conditions):
            cis = [summary[key][c][q] for q in _QUADRANTS]
            x = np.arange(len(_QUADRANTS)) + (i - (len(conditions) - 1) / 2) * width
            ax.bar(x, [ci["mean"] if ci["n"] else 0 for ci in cis], width,
                   yerr=[ci["half_width"] if ci["n"] > 1 else 0 for ci in cis], capsize=2, label=c)
        ax.set_xticks(np.arange(len(_QUADRANTS)), _QUADRANTS)
        ax.set(title=f"independent check {title}", ylim=(0, 1))
        ax.title.set_fontsize(9)
    axes[0].set_ylabel("cue agreement (0–1), mean ± 95% CI")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    paths["quadrants.png"] = _save(fig, folder / "quadrants.png")

    # Digital twin: distance to the target over time.
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, c in enumerate(conditions):
        rows = by_condition[c]
        n = max((len(s["twin"]["history"]) for s in rows), default=0)
        groups = []
        for k in range(n):
            vals = []
            for s in rows:
                h = s["twin"]["history"]
                if len(h) > k:
                    target = _target_of(s)
                    vals.append(float(np.hypot(h[k]["valence"] - target[0], h[k]["arousal"] - target[1])))
            groups.append(vals)
        _errorline(ax, groups, c, offset=0.04 * i)
    ax.set(xlabel="segments heard", ylabel="twin's distance to target", title="digital twin (mean ± 95% CI)")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths["twin.png"] = _save(fig, folder / "twin.png")
    return paths


def _target_of(session: dict[str, Any]) -> tuple[float, float]:
    return session["target"]["valence"], session["target"]["arousal"]
