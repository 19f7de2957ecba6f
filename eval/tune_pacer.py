"""Tune the closed-loop pacer on the twin population's *tuning* seeds (never the held-out ones).

Runs the twin study (closed vs open loop, and optionally personalised vs fresh) through the real
pipeline — embedded generator, evaluator, independently measured cues — on twins drawn from
``TUNING_SEEDS`` with the pacer constants given on the command line, and prints the paired
statistics the report uses.  The constants committed in ``PacerSettings`` were chosen with this
script; the report's held-out study then ran once.

    .venv/bin/python eval/tune_pacer.py --twins 12 --personalised 0 --set explore=0.2 --set max_offset=0.6
    .venv/bin/python eval/tune_pacer.py --held-out   # the check on held-out twins, once, at the end

Writes the study as JSON with ``--out FILE`` (atomically).  ``--open-from FILE`` takes the open
arm from such a file instead of playing it again (it does not depend on the pacer's constants), which
halves a tuning run:

    .venv/bin/python eval/tune_pacer.py --twins 24 --out /tmp/base0.json
    .venv/bin/python eval/tune_pacer.py --twins 24 --open-from /tmp/base0.json --set lead=0.6
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptloop.session.closed_loop import PacerSettings


def _settings(pairs: list[str]) -> PacerSettings:
    from promptloop.session.closed_loop import PacerSettings

    defaults = PacerSettings()
    kinds = {f.name: type(getattr(defaults, f.name)) for f in fields(defaults)}
    chosen: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in kinds:
            raise SystemExit(f"unknown pacer setting {key!r}; choose from {', '.join(sorted(kinds))}")
        try:
            chosen[key] = kinds[key](value)  # int settings (segment counts) stay int
        except ValueError:
            wanted = "a whole number" if kinds[key] is int else "a number"
            raise SystemExit(f"pacer setting {key} takes {wanted}, not {value!r}") from None
    return replace(PacerSettings(), **chosen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--twins", type=int, default=12)
    parser.add_argument("--personalised", type=int, default=0, help="twins in the personalised-vs-fresh study")
    parser.add_argument("--sessions", type=int, default=4, help="sessions per personalised twin")
    parser.add_argument("--first-seed", type=int, default=0, help="first tuning seed (0-999)")
    parser.add_argument("--segments", type=int, default=None)
    parser.add_argument("--self-report-every", type=int, default=None, metavar="N",
                        help="the closed arm asks the twin how they feel after every N segments (0: never)")
    parser.add_argument("--sensing", default="wearable", metavar="KIND",
                        help="what the closed arm senses: wearable (the study), or a bound: exact-arousal, exact-affect "
                             "(promptloop.evaluation.twin_sessions.SENSING)")
    parser.add_argument("--actuation", default="audio", metavar="KIND",
                        help="what the music can do to valence: audio (the study: the measured mode), or a bound: "
                             "graded-valence (promptloop.evaluation.twin_sessions.ACTUATION)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a PacerSettings constant")
    parser.add_argument("--held-out", action="store_true", help="the held-out twins instead (check once, do not tune)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--open-from", type=Path, default=None, metavar="FILE",
                        help="reuse the open-loop sessions of a study written with --out (same twins and session settings)")
    args = parser.parse_args(argv)
    if args.sensing != "wearable" and args.held_out:
        raise SystemExit("--sensing is a bound for tuning twins; the held-out check uses the wearable")
    if args.actuation != "audio" and args.held_out:
        raise SystemExit("--actuation is a bound for tuning twins; the held-out check hears the audio")

    from promptloop.audio.io import atomic_write_bytes
    from promptloop.errors import InputError
    from promptloop.evaluation.report_twins import twin_markdown, twin_summary
    from promptloop.evaluation.run import build_harness_backends
    from promptloop.evaluation.twin_sessions import TwinStudy, open_arms, run_twin_study
    from promptloop.evaluation.twins import HELD_OUT_SEEDS, TUNING_SEEDS
    from promptloop.wiring.settings import Settings

    seeds = HELD_OUT_SEEDS if args.held_out else TUNING_SEEDS
    first = HELD_OUT_SEEDS.start if args.held_out else args.first_seed
    if not (first in seeds and first + max(args.twins, args.personalised) - 1 in seeds):
        raise SystemExit(f"twins must come from {seeds}")
    base = TwinStudy()
    reports = base.self_report_every if args.self_report_every is None else args.self_report_every
    try:
        study = TwinStudy(twins=args.twins, personalised_twins=args.personalised, sessions_per_twin=args.sessions,
                          segments=args.segments or base.segments, first_seed=first, pacer=_settings(args.set),
                          sensing=args.sensing, actuation=args.actuation, self_report_every=reports)
    except InputError as exc:
        raise SystemExit(str(exc)) from None  # "sensing must be one of ...", "actuation must be ..."
    reuse = None
    if args.open_from is not None:
        try:
            reuse = open_arms(json.loads(args.open_from.read_text()), study)
        except (OSError, ValueError, KeyError, InputError) as exc:
            raise SystemExit(f"--open-from {args.open_from}: {exc}") from None
    backends = build_harness_backends(Settings(), {"rule"})
    started = time.perf_counter()
    result = run_twin_study(backends, study, on_session=lambda what: print(what, file=sys.stderr, flush=True),
                            reuse_open=reuse)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    summary = twin_summary(result)
    print("\n".join(twin_markdown(result, summary)))
    print(f"wall: {result['wall_seconds']} s")
    if args.out is not None:
        atomic_write_bytes(args.out, json.dumps({**result, "summary": summary}, indent=1).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
