"""The playlist's report (JSON and Markdown), its M3U8 playlists and the arc plots.

The report holds, per listener and track: the planned start and end affect, the measured affect
(the evaluator's estimate of each segment), scores, loudness, the prompts used, the nearest other
track and its distance, and which worker made it.  Listener folders are self-contained (tracks,
playlist, arc plot), so one listener's folder can be handed over without anyone else's.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from promptloop._version import __version__
from promptloop.audio.io import atomic_write_bytes
from promptloop.playlist.planner import TrackPlan
from promptloop.playlist.spec import PlaylistSpec
from promptloop.playlist.worker import BackendConfig

__all__ = ["REPORT_VERSION", "write_outputs"]

REPORT_VERSION = "1.0"


def _track_entry(plan: TrackPlan, entry: dict[str, Any], record: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    summary = record["summary"]
    segments = record["segments"]
    return {
        "index": plan.index + 1,
        "title": plan.title,
        "file": entry["file"],
        "record": entry["record"],
        "sha256": entry["sha256"],
        "seed": entry["seed"],
        "attempt": entry["attempt"],
        "worker": entry["worker"],
        "planned": {"start": plan.start.to_dict(), "end": plan.end.to_dict()},
        "measured": {
            "end": summary["final_estimated"],
            "mean": {
                "valence": round(float(np.mean([s["estimated"]["valence"] for s in segments])), 4),
                "arousal": round(float(np.mean([s["estimated"]["arousal"] for s in segments])), 4),
            },
        },
        "segments": [
            {"index": s["index"], "start_s": s["start_s"], "waypoint": s["waypoint"], "estimated": s["estimated"],
             "score": s["score"], "prompt": s["prompt"]}
            for s in segments
        ],
        "mean_score": summary["mean_score"],
        "trajectory_error": summary["trajectory_error"],
        "loudness_lufs": summary["loudness_lufs"],
        "duration_s": summary["duration_s"],
        "variety": decision,
    }


def write_outputs(spec: PlaylistSpec, out: Path, plans: dict[str, list[TrackPlan]], tracks: dict[str, dict[str, Any]],
                  decisions: dict[str, dict[str, Any]], backends: BackendConfig,
                  engine: dict[str, Any]) -> dict[str, Any]:
    """Write every listener's playlist.m3u8 and arc.png, then report.json and report.md."""
    listeners = []
    for listener in spec.listeners:
        entries = []
        for plan in plans[listener.id]:
            entry = tracks[plan.key]
            record = json.loads((out / entry["record"]).read_text())
            entries.append(_track_entry(plan, entry, record, decisions[plan.key]))
        _write_m3u8(out / listener.id / "playlist.m3u8", spec, entries)
        plot_arc(entries, spec.segment_seconds, out / listener.id / "arc.png", title=f"{spec.name}: {listener.id}")
        listeners.append({
            "id": listener.id,
            "start": spec.start_of(listener).to_dict(),
            "target": spec.target_of(listener).to_dict(),
            "playlist": f"{listener.id}/playlist.m3u8",
            "arc_plot": f"{listener.id}/arc.png",
            "mean_score": round(float(np.mean([t["mean_score"] for t in entries])), 4),
            "variety_met": all(t["variety"]["met"] for t in entries),
            "tracks": entries,
        })
    report = {
        "report_version": REPORT_VERSION,
        "promptloop_version": __version__,
        "name": spec.name,
        "seed": spec.seed,
        "arc": spec.arc,
        "tracks_per_listener": spec.tracks,
        "track_seconds": spec.track_seconds,
        "segments_per_track": spec.segments_per_track,
        "format": spec.format,
        "backends": backends.to_dict(),
        "engine": engine,
        "variety": {"min_distance": spec.variety.min_distance, "max_attempts": spec.variety.max_attempts,
                    "measure": "1 - best time-shifted correlation of mel and chroma (promptloop.playlist.variety)"},
        "listeners": listeners,
    }
    atomic_write_bytes(out / "report.json", (json.dumps(report, indent=2) + "\n").encode())
    atomic_write_bytes(out / "report.md", markdown(report).encode())
    return report


def _write_m3u8(path: Path, spec: PlaylistSpec, entries: list[dict[str, Any]]) -> None:
    lines = ["#EXTM3U", f"#PLAYLIST:{spec.name}"]
    for t in entries:
        lines.append(f"#EXTINF:{round(t['duration_s'])},{t['title']}")
        lines.append(Path(t["file"]).name)  # relative to the playlist, inside the listener's folder
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))


def _va(a: dict[str, float]) -> str:
    return f"{a['valence']:+.2f} / {a['arousal']:+.2f}"


def markdown(report: dict[str, Any]) -> str:
    """A readable page: per listener, a table of tracks, the arc plot, and the prompts."""
    out = [
        f"# Playlist report: {report['name']}",
        "",
        f"Arc **{report['arc']}**, {report['tracks_per_listener']} tracks of {report['track_seconds']:g} s "
        f"({report['segments_per_track']} segments each), seed {report['seed']}, "
        f"backends {', '.join(f'{k} `{v}`' for k, v in report['backends'].items())}, "
        f"engine `{report['engine']['engine']}` with {report['engine']['workers']} worker(s).",
        "",
        f"Variety: every track at least {report['variety']['min_distance']} from each earlier track "
        f"({report['variety']['measure']}); at most {report['variety']['max_attempts']} renders per track.",
    ]
    for lst in report["listeners"]:
        out += [
            "",
            f"## Listener `{lst['id']}`",
            "",
            f"Start {_va(lst['start'])}, target {_va(lst['target'])} (valence / arousal). "
            f"Mean score {lst['mean_score']:.2f}. Variety {'met' if lst['variety_met'] else '**not met**'}. "
            f"Playlist: [{lst['playlist']}]({lst['playlist']}).",
            "",
            f"![planned vs measured arc]({lst['arc_plot']})",
            "",
            "| # | title | planned start → end | measured end | score | traj. error | LUFS | nearest (distance) | seed / renders |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for t in lst["tracks"]:
            v = t["variety"]
            nearest = f"{v['nearest']} ({v['distance']:.3f})" if v["nearest"] else "first"
            out.append(
                f"| {t['index']} | [{t['title']}]({t['file']}) | {_va(t['planned']['start'])} → {_va(t['planned']['end'])} "
                f"| {_va(t['measured']['end'])} | {t['mean_score']:.2f} | {t['trajectory_error']:.2f} "
                f"| {t['loudness_lufs']:.1f} | {nearest}{'' if v['met'] else ' **too close**'} | {t['seed']} / {v['attempts']} |"
            )
        out += ["", "Prompts:", ""]
        for t in lst["tracks"]:
            for seg in t["segments"]:
                out.append(f"- track {t['index']}, segment {seg['index'] + 1} (score {seg['score']:.2f}): {seg['prompt']}")
    return "\n".join(out) + "\n"


def plot_arc(entries: list[dict[str, Any]], segment_seconds: float, path: Path, title: str) -> None:
    """Valence and arousal over the playlist: the loop's waypoints (each segment's plan, moving in
    bounded steps) and each track's planned end, against the evaluator's estimates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, planned, measured, bounds, ends = [], [], [], [], []
    offset = 0.0
    for t in entries:
        for seg in t["segments"]:
            x.append(offset + seg["start_s"] + segment_seconds / 2)
            planned.append((seg["waypoint"]["valence"], seg["waypoint"]["arousal"]))
            measured.append((seg["estimated"]["valence"], seg["estimated"]["arousal"]))
        offset += t["duration_s"]
        bounds.append(offset)
        ends.append((t["planned"]["end"]["valence"], t["planned"]["end"]["arousal"]))
    p, m, e = np.array(planned), np.array(measured), np.array(ends)
    fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    for k, (ax, name) in enumerate(zip(axes, ("valence", "arousal"), strict=True)):
        ax.plot(x, p[:, k], "o-", label="planned (segment waypoints)")
        ax.plot(x, m[:, k], "s--", label="measured")
        ax.plot(bounds, e[:, k], "*", color="green", markersize=10, label="track's planned end")
        for b in bounds[:-1]:
            ax.axvline(b, color="grey", lw=0.8, ls=":")
        ax.set_ylim(-1.05, 1.05)
        ax.set_ylabel(name)
        ax.axhline(0, color="grey", lw=0.5)
    axes[0].set_title(f"{title} (dotted: track boundaries)")
    axes[0].legend(fontsize=8, loc="best")
    axes[1].set_xlabel("seconds into the playlist")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
