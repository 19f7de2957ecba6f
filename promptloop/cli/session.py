"""The ``promptloop session`` job: validate input, build backends, run with a progress bar, write
output atomically, print a summary table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from promptloop.acquisition.affect import parse_affect
from promptloop.acquisition.physio import Baseline, Readings, estimate_affect
from promptloop.audio.io import atomic_write_bytes
from promptloop.errors import InputError
from promptloop.representation.preferences import (
    DEFAULT_LOUDNESS_CEILING_LUFS,
    Preferences,
    parse_tempo_range,
    parse_terms,
)
from promptloop.representation.profile import ListenerProfile, ProfileUpdate, load_profile_text
from promptloop.session.loop import run_session

__all__ = ["load_profile", "load_readings", "run_cli_session", "save_profile"]


def load_profile(path: Path) -> ListenerProfile:
    """The profile in ``path``, or an empty one when the file does not exist yet."""
    path = Path(path)
    if not path.exists():
        return ListenerProfile()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read profile {path.name}: {exc}") from exc
    return load_profile_text(text, f"profile {path.name}")


def save_profile(path: Path, profile: ListenerProfile) -> None:
    atomic_write_bytes(Path(path), (profile.model_dump_json(indent=1) + "\n").encode())


def _session_update(args: dict[str, Any], prefs: Preferences) -> ProfileUpdate:
    """What a CLI session tells the profile: sounds the listener avoided, a ceiling and a tempo range
    they set."""
    ceiling = args["loudness_ceiling"] if args["loudness_ceiling"] < DEFAULT_LOUDNESS_CEILING_LUFS else None
    return ProfileUpdate(rejected=list(parse_terms(args["avoid"])), loudness_ceiling_lufs=ceiling,
                         tempo_range_bpm=parse_tempo_range(args.get("tempo_range")))


def load_readings(path: Path) -> tuple[Readings, Baseline | None]:
    """Read ``{"readings": {...}, "baseline": {...}}`` (or just the readings object)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise InputError(f"readings file not found: {path}") from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read readings file {Path(path).name}: not valid JSON") from exc
    if not isinstance(data, dict):
        raise InputError("readings file must hold a JSON object")
    raw_readings = data.get("readings", data if "baseline" not in data else {})
    raw_baseline = data.get("baseline")
    if not isinstance(raw_readings, dict) or (raw_baseline is not None and not isinstance(raw_baseline, dict)):
        raise InputError("readings and baseline must be JSON objects")
    readings = Readings.from_dict(raw_readings)
    baseline = Baseline.partial(raw_baseline) if raw_baseline else None
    return readings, baseline


def _generator_options(args: dict[str, Any], default_generator: str) -> dict[str, Any]:
    """``--model`` goes to the generators that load models; anywhere else it is a mistake."""
    model = args.get("model")
    if model is None:
        return {}
    name = args.get("generator") or default_generator
    if name not in ("musicgen", "audiocraft"):
        raise InputError(f"--model applies to --generator musicgen or audiocraft, not {name!r}")
    return {"model": model}


def run_cli_session(args: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Table

    from promptloop.audio.io import load_audio
    from promptloop.representation.plan_checks import tempo_range_note
    from promptloop.representation.trajectory import path_pace
    from promptloop.session.output import staged_output, write_session
    from promptloop.wiring.builders import build_backends, spec_from_settings
    from promptloop.wiring.options import planner_options_for
    from promptloop.wiring.settings import Settings

    settings = Settings()
    start = parse_affect(args["start"])
    target = parse_affect(args["target"])
    prefs = Preferences.build(args["prefer"], args["avoid"], gentle=args["gentle"],
                              loudness_ceiling_lufs=args["loudness_ceiling"],
                              tempo_range_bpm=parse_tempo_range(args.get("tempo_range")))
    profile = load_profile(args["profile"]) if args.get("profile") is not None else None
    if args["readings"] is not None:
        readings, baseline = load_readings(args["readings"])
        start = estimate_affect(readings, baseline, prior=start).affect
    if profile is not None:
        prefs = profile.prior(prefs, start, target)
    spec = spec_from_settings(
        settings,
        start=start,
        target=target,
        preferences=prefs,
        segments=args["segments"],
        segment_seconds=args["segment_seconds"],
        seed=args["seed"],
        candidates=args["candidates"],
        threshold=args["threshold"],
        max_retries=args["max_retries"],
        skip_seed_only_retries=None if args.get("seed_only_retries") is None else not args["seed_only_retries"],
        # The configured crossfade is a default: short segments get a proportionally shorter one.
        crossfade_seconds=min(settings.crossfade_seconds, args["segment_seconds"] / 4),
    )
    console = Console(stderr=True)
    out = Path(args["out"])
    with staged_output(out, overwrite=args["overwrite"]) as staging:
        backends = build_backends(settings, generator=args["generator"], planner=args["planner"],
                                  evaluator=args["evaluator"],
                                  planner_options=planner_options_for(
                                      settings, args["planner"], provider=args["llm_provider"],
                                      model=args["llm_model"], base_url=args["llm_base_url"]),
                                  generator_options=_generator_options(args, settings.generator))
        if args["prior"] is not None:
            prior = load_audio(args["prior"], backends.generator.sample_rate)
            from dataclasses import replace

            spec = replace(spec, prior=prior, prior_name=Path(args["prior"]).name)
        steep = path_pace(spec.start, spec.target, spec.segments, spec.max_step).note()
        if steep:  # said before the wait (once the input is known good), and again with the results
            console.print(f"[yellow]note:[/] {steep}")
        held = tempo_range_note(spec.target, spec.preferences)
        if held:
            console.print(f"[yellow]note:[/] {held}")
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=False) as progress:
            task = progress.add_task("segments", total=spec.segments)

            told: set[tuple[str, str]] = set()

            def on_event(kind: str, payload: dict[str, Any]) -> None:
                if kind == "segment_done":
                    progress.update(task, advance=1, description=f"segment {payload['index'] + 1:02d} score {payload['score']:.2f}")
                    # A named instrument is never dropped silently: say what plays it instead.
                    for asked, played in payload["record"].substitutions.items():
                        if (asked, played) not in told:
                            told.add((asked, played))
                            console.print(f"note: generator {backends.generator.name!r} has no {asked}; "
                                          f"played as {played}", markup=False)

            session = run_session(spec, backends.generator, backends.planner, backends.evaluator,
                                  fallback_planner=backends.fallback_planner, on_event=on_event)
        write_session(staging, session, plot=args["plot"])
    if profile is not None:
        save_profile(args["profile"], profile.learn(_session_update(args, prefs)))
    record = session.record()
    table = Table(title=f"session → {out}")
    for column in ("#", "prompt", "target v/a", "estimated v/a", "score", "tries"):
        table.add_column(column, overflow="fold")
    for seg in record.segments:
        table.add_row(
            f"{seg.index:02d}", seg.prompt,
            f"{seg.waypoint.valence:+.2f}/{seg.waypoint.arousal:+.2f}",
            f"{seg.estimated.valence:+.2f}/{seg.estimated.arousal:+.2f}",
            f"{seg.score:.2f}", str(len(seg.attempts)),
        )
    Console().print(table)
    s = record.summary
    assert s is not None
    Console().print(
        f"{s.duration_s:.1f} s of audio, mean score {s.mean_score:.2f}, trajectory error "
        f"{s.trajectory_error:.2f}, {s.loudness_lufs:.1f} LUFS, wall {s.wall_seconds:.1f} s"
    )
    if record.pacing is not None and record.pacing.note:
        Console().print(f"steep path: {record.pacing.note}")
    if record.pacing is not None and record.pacing.tempo_note:
        Console().print(f"tempo range: {record.pacing.tempo_note}")
