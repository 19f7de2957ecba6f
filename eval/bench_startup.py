"""Start-up benchmark: wall time from process start to the first segment written, on the embedded default.

Runs the README's session command with one 10 s segment (``--segments 1 --no-plot``), which ends
when that segment and its provenance are on disk: an upper bound on "first segment written" of the
6-segment demo, whose first segment is the same work.  Each run is a fresh process; ``cold`` runs
start with an empty cache folder (XDG_CACHE_HOME), ``warm`` ones reuse the folder of a run before.
Pass ``--tree DIR`` to time another checkout of promptloop with the same virtual environment (the
before figure: a worktree of an older commit).  Target (issue 12): warm ≤ 4 s.

    .venv/bin/python eval/bench_startup.py [--repeats 3] [--tree /tmp/promptloop-before]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMAND = ["session", "--start", "anxious", "--target", "calm", "--prefer", "piano, soft pads, rain",
           "--avoid", "drums", "--segments", "1", "--segment-seconds", "10", "--seed", "7", "--overwrite"]


def _cli_module(tree: Path) -> str:
    return "promptloop.cli.main" if (tree / "promptloop" / "cli" / "main.py").is_file() else "promptloop.cli"


def run_once(tree: Path, cache: Path, out: Path, plot: bool) -> float:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(tree)}
    args = [sys.executable, "-m", _cli_module(tree), *COMMAND, "--out", str(out)] + ([] if plot else ["--no-plot"])
    t0 = time.perf_counter()
    subprocess.run(args, cwd=tree, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    if not (out / "segments" / "00.wav").is_file():
        raise SystemExit(f"no segment written by {' '.join(args)}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--plot", action="store_true", help="also draw overview.png (as the demo does)")
    args = parser.parse_args()
    tree = args.tree.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_once(tree, root / "warmup-cache", root / "warmup", args.plot)  # OS file cache, numba's own cache
        cold = [run_once(tree, root / f"cold-{i}", root / f"c{i}", args.plot) for i in range(args.repeats)]
        warm_cache = root / "warm"
        run_once(tree, warm_cache, root / "w", args.plot)
        warm = [run_once(tree, warm_cache, root / f"w{i}", args.plot) for i in range(args.repeats)]
    load = os.getloadavg()[0]
    print(f"tree: {tree}  python: {sys.version.split()[0]}  cpus: {os.cpu_count()}  load(1 min): {load:.2f}")
    print(f"cold cache: median {statistics.median(cold):.2f} s  (runs: {', '.join(f'{w:.2f}' for w in cold)})")
    print(f"warm cache: median {statistics.median(warm):.2f} s  (runs: {', '.join(f'{w:.2f}' for w in warm)})")
    print(f"target 4.0 s: warm/target = {statistics.median(warm) / 4.0:.2f}")


if __name__ == "__main__":
    main()
