"""The ``promptloop eval`` job: load a suite, build backends once, run every scenario × seed ×
condition with a progress bar, and write results and the report atomically."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from promptloop._version import __version__
from promptloop.errors import InputError
from promptloop.evaluation.conditions import (
    CONDITIONS,
    llm_configured,
    select_conditions,
)
from promptloop.evaluation.harness import HarnessBackends, run_scenario
from promptloop.evaluation.report import write_report
from promptloop.evaluation.scenarios import Suite, load_suite
from promptloop.evaluation.twin_sessions import TwinStudy
from promptloop.wiring.settings import Settings

__all__ = ["build_harness_backends", "package_versions", "run_eval", "run_suite"]

_PACKAGES = ("numpy", "scipy", "librosa", "pyloudnorm", "pedalboard", "torch", "transformers",
             "sentence-transformers", "matplotlib")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' (uncommitted changes in the tree)' if dirty else ''}"


def build_harness_backends(settings: Settings, planner_names: set[str], *, generator: str | None = None,
                           evaluator: str | None = None) -> HarnessBackends:
    from promptloop.wiring.registry import EVALUATORS, GENERATORS, PLANNERS

    planners = {}
    for name in sorted(planner_names):
        options: dict[str, Any] = {}
        if name == "llm":
            from promptloop.wiring.options import llm_options

            options = llm_options(settings)
        planners[name] = PLANNERS.create(name, settings, **options)
    return HarnessBackends(
        generator=GENERATORS.create(generator or settings.generator, settings),
        evaluator=EVALUATORS.create(evaluator or settings.evaluator, settings),
        planners=planners,
        fallback_planner=PLANNERS.create("rule", settings),
    )


def run_suite(
    suite: Suite,
    condition_names: Sequence[str],
    seeds: list[int],
    backends: HarnessBackends,
    settings: Settings,
    on_progress: Callable[[str], None] | None = None,
    on_segment: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Every scenario × seed × condition, in a fixed order; returns one dict per session."""
    sessions = []
    for scenario in suite.scenarios:
        base = suite.session_settings(scenario, settings)
        for seed in seeds:
            for name in condition_names:
                sessions.append(run_scenario(suite, scenario, seed, CONDITIONS[name], backends, base, on_segment))
                if on_progress is not None:
                    on_progress(f"{scenario.id} seed {seed} {name}")
    return sessions


def run_eval(
    suite_name: str,
    out: Path,
    *,
    conditions: list[str] | None = None,
    seeds: int | None = None,
    generator: str | None = None,
    evaluator: str | None = None,
    overwrite: bool = False,
    command: str | None = None,
    clap_dir: Path | None = None,
    reference_dir: Path | None = None,
    scenarios: int | None = None,
    twin_study: TwinStudy | None = None,
) -> dict[str, Path]:
    """Run a suite and write results.json, results.csv, report.md and the plots into ``out``;
    with ``twin_study``, also the twin-population experiments (:mod:`.twin_sessions`)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    import promptloop.evaluation.plots  # noqa: F401  (load every module now, not after an hour of runs)
    from promptloop.audio.io import atomic_write_bytes
    from promptloop.session.output import staged_output

    settings = Settings()
    suite = load_suite(suite_name)
    if scenarios is not None:  # a quick check on the suite's first scenarios
        if not 1 <= scenarios <= len(suite.scenarios):
            raise InputError(f"--scenarios must be within [1, {len(suite.scenarios)}], got {scenarios}")
        suite = suite.model_copy(update={"scenarios": suite.scenarios[:scenarios]})
    chosen = select_conditions(conditions, settings)
    skipped = {}
    if conditions is None and not llm_configured(settings):
        skipped["loop-llm"] = ("no LLM configured (set PROMPTLOOP_LLM_PROVIDER / PROMPTLOOP_LLM_MODEL, "
                               "or name the condition with --conditions)")
    seed_list = suite.seeds(seeds)
    if reference_dir is not None and clap_dir is None:
        raise InputError("--reference needs --clap (FAD uses CLAP embeddings)")
    names = [c.name for c in chosen]
    total = len(suite.scenarios) * len(seed_list) * len(names)
    if twin_study is not None:
        total += twin_study.session_count()
    console = Console(stderr=True)
    started = time.perf_counter()
    git = _git_state()  # the code as it was when the runs started
    with staged_output(out, overwrite=overwrite) as staging:
        backends = build_harness_backends(settings, {c.planner for c in chosen}, generator=generator,
                                          evaluator=evaluator)
        # Warm-up (loads MiniLM, compiles librosa's numba kernels) so the first condition's
        # timings are not charged for it; its result is discarded.
        warm = suite.session_settings(suite.scenarios[0], settings) | {"segments": 1}
        run_scenario(suite, suite.scenarios[0], seed_list[0], chosen[0], backends, warm)
        if clap_dir is not None:
            from promptloop.feedback.evaluators.clap import ClapMetric, ClapScorer

            backends.clap = ClapMetric(ClapScorer(clap_dir), reference_dir)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=console) as progress:
            task = progress.add_task("runs", total=total)
            done = [0]

            def advance(what: str) -> None:
                done[0] += 1
                progress.update(task, advance=1, description=what[:48])
                if not console.is_terminal:  # a log file gets one line per run instead of a bar
                    console.print(f"[{done[0]}/{total}] {what}", highlight=False)

            sessions = run_suite(suite, names, seed_list, backends, settings, on_progress=advance)
            twins = None
            if twin_study is not None:
                from promptloop.evaluation.twin_sessions import run_twin_study

                twin_started = time.perf_counter()
                twins = run_twin_study(backends, twin_study, on_session=advance)
                twins["wall_seconds"] = round(time.perf_counter() - twin_started, 1)
        # Keep the raw sessions outside the staging folder until the report is written, so a
        # failure while reporting loses no runs (promptloop.evaluation.report.rerender reads them).
        checkpoint = out.parent / f".{out.name}.sessions.json"
        atomic_write_bytes(checkpoint, json.dumps({"sessions": sessions, "twins": twins}).encode())
        example = suite.session_settings(suite.scenarios[0], settings)
        meta = {
            "suite": suite.suite,
            "command": command or " ".join(["promptloop", *sys.argv[1:]]),
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "promptloop_version": __version__,
            "git": git,
            "scenarios": len(suite.scenarios),
            "seeds": seed_list,
            "conditions": {c.name: c.description for c in chosen},
            "skipped_conditions": skipped,
            "settings": example,
            "backends": {"generator": backends.generator.describe(), "evaluator": backends.evaluator.describe(),
                         "planners": {k: v.describe() for k, v in backends.planners.items()}},
            "versions": package_versions(),
            "fad": backends.clap.fad() if backends.clap is not None else {},
            "wall_seconds": round(time.perf_counter() - started, 1),
        }
        paths = write_report(staging, meta, sessions, names, twins=twins)
    checkpoint.unlink(missing_ok=True)
    console.print(f"wrote {len(sessions)} sessions and the report to {out}")
    return {name: out / path.name for name, path in paths.items()}
