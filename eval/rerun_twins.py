"""Re-run the twin-population study of a finished `promptloop eval core` report with the code as it is now.

The scenario sessions stay as they were run; the twin study (closed vs open loop, personalised vs
fresh profiles) runs again with the same study settings and replaces the old one; the report and
plots are rewritten from ``results.json``.  ``meta["twins_rerun"]`` records the command, the commit
and the wall time, so the report says which code each part comes from.  For a change that touches
only the closed loop or the profile, this costs the twin study's time instead of the whole run's.

    .venv/bin/python eval/rerun_twins.py eval/reports/core
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a finished report folder (holds results.json)")
    args = parser.parse_args()

    from promptloop.audio.io import atomic_write_bytes
    from promptloop.evaluation.report import rerender
    from promptloop.evaluation.run import _git_state, build_harness_backends
    from promptloop.evaluation.twin_sessions import TwinStudy, run_twin_study
    from promptloop.session.closed_loop import PacerSettings
    from promptloop.wiring.settings import Settings

    path = args.folder / "results.json"
    data = json.loads(path.read_text())
    if not data.get("twins"):
        sys.exit(f"error: {path} has no twin study to re-run")
    fields = dict(data["twins"]["study"])
    if isinstance(fields.get("pacer"), dict):  # stored as JSON: rebuild the pacer's settings
        fields["pacer"] = PacerSettings(**fields["pacer"])
    study = TwinStudy(**fields)
    backends = build_harness_backends(Settings(), {"rule"})
    started = time.perf_counter()
    twins = run_twin_study(backends, study, on_session=lambda what: print(what, flush=True))
    twins["wall_seconds"] = round(time.perf_counter() - started, 1)
    data["twins"] = twins
    data["meta"]["twins_rerun"] = {"command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
                                   "git": _git_state(), "wall_seconds": twins["wall_seconds"],
                                   "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    atomic_write_bytes(path, json.dumps(data, indent=1).encode())
    rerender(args.folder)
    print(f"twin study re-run in {twins['wall_seconds']:.0f} s; report rewritten in {args.folder}")


if __name__ == "__main__":
    main()
