"""The ``promptloop playlist`` job: load the spec, run it with progress bars (overall and one per
track in progress), print a summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptloop.playlist.runner import run_playlist
from promptloop.playlist.spec import load_spec

__all__ = ["run_cli_playlist"]


def run_cli_playlist(spec_path: Path, out: Path, engine: str, workers: int, address: str | None) -> int:
    """Run the playlist; returns the exit code (0 done, 130 interrupted with finished tracks kept)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Table

    spec = load_spec(spec_path)
    console = Console(stderr=True)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            overall = progress.add_task("tracks", total=spec.tracks * len(spec.listeners))
            bars: dict[str, Any] = {}

            def on_progress(event: dict[str, Any]) -> None:
                kind, key = event["kind"], str(event.get("key"))
                if kind == "track_skipped":
                    progress.update(overall, advance=1, description="tracks (finished ones verified)")
                elif kind == "segment_done":
                    if key not in bars:
                        bars[key] = progress.add_task(f"  {key}", total=event["segments"])
                    progress.update(bars[key], advance=1, description=f"  {key} score {event['score']:.2f}")
                elif kind == "track_done":
                    if key in bars:
                        progress.remove_task(bars.pop(key))
                    progress.update(overall, advance=1, description=f"tracks ({key} done)")
                elif kind == "variety_retry":
                    progress.update(overall, total=(progress.tasks[overall].total or 0) + 1)
                    progress.console.print(f"{key} is too close to {event['nearest']} "
                                           f"(distance {event['distance']:.3f}); rendering it again")

            result = run_playlist(spec, out, engine, workers=workers, address=address, on_progress=on_progress)
    except KeyboardInterrupt:
        console.print("interrupted: finished tracks are kept; run the same command again to resume")
        return 130
    assert result.report is not None
    table = Table(title=f"playlist {spec.name} → {out}")
    for column in ("track", "title", "score", "measured end v/a", "nearest", "worker"):
        table.add_column(column, overflow="fold")
    for listener in result.report["listeners"]:
        for t in listener["tracks"]:
            v = t["variety"]
            end = t["measured"]["end"]
            table.add_row(
                f"{listener['id']}/{t['index']:02d}", t["title"], f"{t['mean_score']:.2f}",
                f"{end['valence']:+.2f}/{end['arousal']:+.2f}",
                f"{v['distance']:.3f}" if v["distance"] is not None else "-",
                f"{t['worker']['engine']}:{t['worker']['pid']}",
            )
    Console().print(table)
    Console().print(f"{len(result.made)} track(s) made, {len(result.skipped)} reused, {result.seconds:.1f} s; "
                    f"report: {out / 'report.md'}")
    return 0
