"""Turning a run's sessions into results (JSON, CSV), a Markdown report and PNG plots.

The report's tables give mean ± 95 % CI per condition and paired differences (Wilcoxon
signed-rank, Holm-adjusted); its headline sentences are written from the numbers, so re-running
the same suite writes the same words.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptloop.audio.io import atomic_write_bytes
from promptloop.errors import InputError
from promptloop.evaluation.harness import CUE_METRICS, SESSION_METRICS
from promptloop.evaluation.stats import holm, mean_ci, paired_test

__all__ = ["comparisons", "fingerprint", "rerender", "summarise", "twin_fingerprint", "write_report"]

QUADRANTS = ("V+A+", "V-A+", "V-A-", "V+A-")
_QUADRANT_NAMES = {"V+A+": "happy/energised", "V-A+": "tense/anxious", "V-A-": "sad/tired", "V+A-": "calm/relaxed"}
# Which pairs the report compares (a vs b), when both conditions ran.
_PAIRS = (
    ("loop-rule", "static"),
    ("loop-no-retry", "static"),
    ("loop-rule", "loop-no-retry"),
    ("loop-llm", "static"),
    ("loop-llm", "loop-rule"),
    ("loop-rule-closed", "loop-rule"),
    ("loop-rule-closed", "static"),
    ("loop-no-retry-imperfect", "static-imperfect"),
    ("loop-rule-imperfect", "loop-no-retry-imperfect"),
    ("loop-rule-imperfect", "static-imperfect"),
    ("loop-rule-imperfect-gated", "loop-rule-imperfect"),
    ("loop-rule-imperfect-gated", "loop-no-retry-imperfect"),
)
_PAIRED_METRICS = ("independent", "independent_final", "loop_score", "trajectory_error", "violations",
                   "twin_distance_final", "intended_tempo_error", "intended_mode")


def _by(sessions: Sequence[dict[str, Any]], condition: str) -> list[dict[str, Any]]:
    rows = [s for s in sessions if s["condition"] == condition]
    return sorted(rows, key=lambda s: (s["scenario"], s["seed"]))


def _present(sessions: Sequence[dict[str, Any]]) -> list[str]:
    """Session metrics every session has (optional ones, like CLAP, only when they ran)."""
    return [m for m in list(SESSION_METRICS) + list(CUE_METRICS) if all(m in s["metrics"] for s in sessions)]


def summarise(sessions: Sequence[dict[str, Any]], conditions: Sequence[str]) -> dict[str, Any]:
    """Mean ± CI of every session metric per condition, and per target/start quadrant and tag."""
    metrics = _present(sessions)
    out: dict[str, Any] = {"per_condition": {}, "per_target_quadrant": {}, "per_start_quadrant": {}, "per_tag": {}}
    for c in conditions:
        rows = _by(sessions, c)
        out["per_condition"][c] = {m: mean_ci([r["metrics"][m] for r in rows]).__dict__ for m in metrics}
        out["per_condition"][c]["seconds_per_segment"] = mean_ci([r["timing"]["seconds_per_segment"] for r in rows]).__dict__
        for key, field, metric in (("per_target_quadrant", "target_quadrant", "independent"),
                                   ("per_start_quadrant", "start_quadrant", "independent"),
                                   ("per_target_quadrant_final", "target_quadrant", "independent_final")):
            out.setdefault(key, {})[c] = {
                q: mean_ci([r["metrics"][metric] for r in rows if r[field] == q]).__dict__ for q in QUADRANTS}
        tags = sorted({t for r in rows for t in r["tags"]})
        out["per_tag"][c] = {t: mean_ci([r["metrics"]["independent"] for r in rows if t in r["tags"]]).__dict__ for t in tags}
    return out


def comparisons(sessions: Sequence[dict[str, Any]], conditions: Sequence[str]) -> list[dict[str, Any]]:
    """Paired differences a − b per metric for the report's pairs, Holm-adjusted across all."""
    found: list[dict[str, Any]] = []
    for a, b in _PAIRS:
        if a not in conditions or b not in conditions:
            continue
        rows_a, rows_b = _by(sessions, a), _by(sessions, b)
        keys_a = [(r["scenario"], r["seed"]) for r in rows_a]
        if keys_a != [(r["scenario"], r["seed"]) for r in rows_b]:
            raise ValueError(f"conditions {a} and {b} did not run the same scenarios and seeds")
        for m in _PAIRED_METRICS + (("clap_similarity",) if all("clap_similarity" in r["metrics"] for r in rows_a + rows_b) else ()):
            result = paired_test([r["metrics"][m] for r in rows_a], [r["metrics"][m] for r in rows_b])
            found.append({"a": a, "b": b, "metric": m, "mean_difference": result.difference.__dict__,
                          "wins": result.wins, "losses": result.losses, "ties": result.ties,
                          "statistic": result.statistic, "p_value": result.p_value, "test": result.test})
    for item, adjusted in zip(found, holm([f["p_value"] for f in found]), strict=True):
        item["p_holm"] = adjusted
    return found


def subgroup_differences(sessions: Sequence[dict[str, Any]], a: str, b: str, metric: str) -> list[dict[str, Any]]:
    """Mean paired difference a − b of ``metric`` within each target quadrant and each tag."""
    rows_a, rows_b = _by(sessions, a), _by(sessions, b)
    groups: dict[str, list[float]] = {}
    for ra, rb in zip(rows_a, rows_b, strict=True):
        d = ra["metrics"][metric] - rb["metrics"][metric]
        for name in [f"target {ra['target_quadrant']}", f"start {ra['start_quadrant']}"] + [f"tag {t}" for t in ra["tags"]]:
            groups.setdefault(name, []).append(d)
    return [{"group": g, "difference": mean_ci(v).__dict__} for g, v in sorted(groups.items())]


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def fingerprint(sessions: Sequence[dict[str, Any]]) -> str:
    """SHA-256 of every number the suite's sessions measured except wall-clock timings: equal on a
    faithful re-run."""
    return _digest([{k: v for k, v in s.items() if k != "timing"} for s in sessions])


def twin_fingerprint(twins: dict[str, Any]) -> str:
    """The same for a twin study (:mod:`.twin_sessions`): its settings and every twin session's
    numbers, without its wall time and the summary computed from them."""
    return _digest({k: v for k, v in twins.items() if k not in ("wall_seconds", "summary")})


# -- files ------------------------------------------------------------------------------------
def _csv_bytes(sessions: Sequence[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    metric_names = _present(sessions)
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["scenario", "seed", "condition", "start_quadrant", "target_quadrant", "tags", *metric_names,
                     "violation_kinds", "seconds_per_segment"])
    for s in sessions:
        writer.writerow([s["scenario"], s["seed"], s["condition"], s["start_quadrant"], s["target_quadrant"],
                         "|".join(s["tags"]), *[s["metrics"][m] for m in metric_names],
                         "|".join(s["violation_kinds"]), s["timing"]["seconds_per_segment"]])
    return buffer.getvalue().encode()


def _fmt(ci: dict[str, Any], digits: int = 3) -> str:
    if ci["n"] == 0:
        return "–"
    if ci["n"] < 2 or ci["half_width"] != ci["half_width"]:
        return f"{ci['mean']:.{digits}f}"
    return f"{ci['mean']:.{digits}f} ± {ci['half_width']:.{digits}f}"


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


_NAMES = {"static": "the static prompt", "loop-rule": "the full loop (rule planner)",
          "loop-no-retry": "the loop without retries", "loop-llm": "the full loop (LLM planner)",
          "loop-rule-closed": "the closed loop (reading the twin)",
          "static-imperfect": "the static prompt (loose generator)",
          "loop-no-retry-imperfect": "best-of-K without retries (loose generator)",
          "loop-rule-imperfect": "the full loop with rewrites (loose generator)",
          "loop-rule-imperfect-gated": "the full loop retrying only on a rewrite (loose generator)"}


def _sentence(comps: list[dict[str, Any]], a: str, b: str, metric: str, what: str, higher_is_better: bool) -> str | None:
    c = next((x for x in comps if x["a"] == a and x["b"] == b and x["metric"] == metric), None)
    if c is None:
        return None
    d = c["mean_difference"]
    better = d["mean"] > 0 if higher_is_better else d["mean"] < 0
    if c["p_holm"] < 0.05 and d["mean"] != 0:
        verdict = "**beats**" if better else "**does worse than**"
    else:
        verdict = "**does not reliably beat**" if better or d["mean"] == 0 else "**does not reliably differ from (and is, on average, worse than)**"
    wins, losses = (c["wins"], c["losses"]) if higher_is_better else (c["losses"], c["wins"])
    return (f"- On {what}, {_NAMES[a]} {verdict} {_NAMES[b]}: mean difference {d['mean']:+.3f} "
            f"(95 % CI {d['mean'] - d['half_width']:+.3f} to {d['mean'] + d['half_width']:+.3f}); better in {wins}, "
            f"worse in {losses}, tied in {c['ties']} of {d['n']} paired sessions; Wilcoxon p = {_p(c['p_value'])}, "
            f"Holm-adjusted {_p(c['p_holm'])}.")


def _retry_gate_line(comps: list[dict[str, Any]], sessions: Sequence[dict[str, Any]]) -> str | None:
    """Whether the seed-only retry gate saved compute without losing the independent check."""
    gated, full = _by(sessions, "loop-rule-imperfect-gated"), _by(sessions, "loop-rule-imperfect")
    c = next((x for x in comps if x["a"] == "loop-rule-imperfect-gated" and x["b"] == "loop-rule-imperfect"
              and x["metric"] == "independent"), None)
    if not gated or not full or c is None or "retries_skipped" not in gated[0]["metrics"]:
        return None
    made = sum(s["metrics"]["retries"] for s in gated)
    skipped = sum(s["metrics"]["retries_skipped"] for s in gated)
    before = sum(s["metrics"]["retries"] for s in full)
    d = c["mean_difference"]
    kept = c["p_holm"] >= 0.05 or d["mean"] >= 0
    return (f"- Seed-only retry gate (loose generator): {made} retries made and {skipped} skipped, against "
            f"{before} retries without the gate ({len(gated)} sessions); independent check {d['mean']:+.3f} "
            f"(Holm p = {_p(c['p_holm'])}) — " + ("the check is kept with less compute." if kept and made < before
                                                   else "the gate costs the independent check." if not kept
                                                   else "no compute saved."))


def _same_final_plan_line(sessions: Sequence[dict[str, Any]]) -> str | None:
    """How often the full loop's last segment played the very prompt the static condition played
    throughout: there the final-segment difference is the renderer's seed, the way in (tempo glide,
    crossfade) and measurement noise, not planning."""
    static = {(s["scenario"], s["seed"]): s for s in _by(sessions, "static")}
    pairs = [(s, static[(s["scenario"], s["seed"])]) for s in _by(sessions, "loop-rule")
             if (s["scenario"], s["seed"]) in static and s["segments"] and static[(s["scenario"], s["seed"])]["segments"]]
    if not pairs:
        return None
    same = [(a, b) for a, b in pairs if a["segments"][-1]["prompt"] == b["segments"][-1]["prompt"]]
    if not same:
        return None
    diffs = [a["metrics"]["independent_final"] - b["metrics"]["independent_final"] for a, b in same]
    mean = sum(diffs) / len(diffs)
    return (f"- On the final segment the full loop played the same prompt as the static condition in {len(same)} of "
            f"{len(pairs)} paired sessions (the iso path ends at the target); there the final-segment check differs by "
            f"{mean:+.3f} on average ({sum(d > 0 for d in diffs)} better, {sum(d < 0 for d in diffs)} "
            "worse): seed, the way into the segment and measurement noise, not the plan.")


def _headline(comps: list[dict[str, Any]], sessions: Sequence[dict[str, Any]], conditions: Sequence[str]) -> list[str]:
    if "loop-rule" not in conditions or "static" not in conditions:
        return ["The headline comparison needs both `loop-rule` and `static`; this run lacks one."]
    wanted = [
        ("loop-rule", "static", "independent", "the independent check along the iso path", True),
        ("loop-rule", "static", "independent_final", "the independent check of the final segment against the target", True),
        ("loop-rule", "static", "loop_score", "the loop's own score", True),
        ("loop-rule", "loop-no-retry", "independent", "the independent check along the iso path", True),
        ("loop-llm", "loop-rule", "independent", "the independent check along the iso path", True),
        ("loop-rule-imperfect", "static-imperfect", "independent", "the independent check along the iso path, with a loosely adherent generator", True),
        ("loop-rule-imperfect", "static-imperfect", "independent_final", "the independent check of the final segment against the target, with a loosely adherent generator", True),
        ("loop-no-retry-imperfect", "static-imperfect", "independent", "the independent check along the iso path, with a loosely adherent generator", True),
        ("loop-rule-imperfect", "loop-no-retry-imperfect", "independent", "the independent check along the iso path, with a loosely adherent generator", True),
        ("loop-rule-imperfect", "loop-no-retry-imperfect", "intended_tempo_error", "the tempo error against the plan's intent (lower is better), with a loosely adherent generator", False),
        ("loop-rule-imperfect", "loop-no-retry-imperfect", "intended_mode", "the share of segments in the intended mode, with a loosely adherent generator", True),
        ("loop-rule-imperfect-gated", "loop-rule-imperfect", "independent", "the independent check along the iso path, with a loosely adherent generator", True),
        ("loop-rule-imperfect-gated", "loop-no-retry-imperfect", "independent", "the independent check along the iso path, with a loosely adherent generator", True),
        ("loop-rule-closed", "loop-rule", "twin_distance_final", "the twin's final distance to the target (lower is better)", False),
        ("loop-rule-closed", "loop-rule", "independent", "the independent check along the iso path", True),
    ]
    lines = [line for line in (_sentence(comps, *w) for w in wanted) if line is not None]
    gate = _retry_gate_line(comps, sessions)
    if gate:
        lines.append(gate)
    same = _same_final_plan_line(sessions)
    if same:
        lines.append(same)
    for metric, what in (("independent", "iso-path check"), ("independent_final", "final-segment check")):
        groups = subgroup_differences(sessions, "loop-rule", "static", metric)
        worse = [g for g in groups if g["difference"]["mean"] <= 0]
        if worse:
            names = ", ".join(f"{g['group']} ({g['difference']['mean']:+.3f})" for g in worse)
            lines.append(f"- Where the full loop does not beat the static prompt on the {what} "
                         f"(mean paired difference ≤ 0): {names}.")
        else:
            lines.append(f"- On the {what}, the full loop's mean paired difference over the static prompt is "
                         "positive in every target quadrant, start quadrant and sensitivity tag.")
    return lines


def _markdown(meta: dict[str, Any], sessions: Sequence[dict[str, Any]], summary: dict[str, Any],
              comps: list[dict[str, Any]], conditions: Sequence[str]) -> str:
    lines = [f"# Evaluation report: suite `{meta['suite']}`", ""]
    lines += ["## What was run", "",
              f"- Command: `{meta['command']}`",
              f"- Date (UTC): {meta['created']}; promptloop {meta['promptloop_version']}; git {meta['git']}",
              f"- Scenarios: {meta['scenarios']}; seeds: {meta['seeds']}; conditions: {', '.join(conditions)}; "
              f"sessions: {len(sessions)}",
              f"- Session settings (suite defaults + product defaults): `{json.dumps(meta['settings'])}`",
              f"- Backends: `{json.dumps(meta['backends'])}`",
              f"- Result fingerprint (every number of the suite's sessions, wall-clock timings aside): "
              f"`{meta['fingerprint']}`",
              *([f"- Twin study fingerprint (every number of its sessions, its wall time aside): "
                 f"`{meta['twin_fingerprint']}`"] if meta.get("twin_fingerprint") else []),
              f"- Wall time of the whole run: {meta['wall_seconds']:.0f} s",
              "- Package versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())]
    if rerun := meta.get("twins_rerun"):
        lines.append(f"- Twin study re-run afterwards with the code at git {rerun['git']} (`{rerun['command']}`, "
                     f"{rerun['created']}, {rerun['wall_seconds']:.0f} s); the scenario sessions are from the run above")
    lines.append("")
    skipped = meta.get("skipped_conditions") or {}
    for name, why in skipped.items():
        lines.append(f"- Condition `{name}` not run: {why}")
    if skipped:
        lines.append("")
    lines += ["## Headline", ""] + _headline(comps, sessions, conditions) + [""]
    lines += ["The independent check scores measured tempo, loudness, spectral centroid and mode against "
              "fixed ranges from the affect–music literature (docs/evaluation.md); the loop never sees it. "
              "'Iso path' is the reference trajectory from the start to the target affect that every "
              "condition is scored against; the static prompt aims at the target from the first segment, "
              "so it is expected to lose early segments on this check and to win them on the target check.", ""]
    lines += ["## Per condition (mean ± 95 % CI over sessions)", ""]
    header = "| metric | " + " | ".join(conditions) + " |"
    lines += [header, "|" + "---|" * (len(conditions) + 1)]
    present = _present(sessions)
    for m, info in SESSION_METRICS.items():
        if m not in present:
            continue
        better = "" if info["higher"] is None else (" ↑" if info["higher"] else " ↓")
        lines.append(f"| {info['label']}{better} | " + " | ".join(_fmt(summary["per_condition"][c][m]) for c in conditions) + " |")
    for m in CUE_METRICS:
        lines.append(f"| independent: {m.split('_')[1]} in range ↑ | " + " | ".join(_fmt(summary["per_condition"][c][m]) for c in conditions) + " |")
    lines.append("| seconds per segment (wall) | " + " | ".join(_fmt(summary["per_condition"][c]["seconds_per_segment"], 2) for c in conditions) + " |")
    for condition, value in sorted(meta.get("fad", {}).items()):
        lines.append(f"- Fréchet Audio Distance (CLAP embeddings) of `{condition}` against the reference folder: {value:.4f}")
    lines += ["", "## Paired differences (a − b, same scenarios and seeds)", "",
              "Wilcoxon signed-rank test, two-sided; p-values Holm-adjusted over every row of this table.", "",
              "| a | b | metric | mean difference ± 95 % CI | a>b / a<b / equal | p | p (Holm) |",
              "|---|---|---|---|---|---|---|"]
    for c in comps:
        lines.append(f"| {c['a']} | {c['b']} | {c['metric']} | {_fmt(c['mean_difference'])} | "
                     f"{c['wins']}/{c['losses']}/{c['ties']} | {_p(c['p_value'])} | {_p(c['p_holm'])} |")
    lines += ["", "## Independent check by quadrant", "", "![per-quadrant results](quadrants.png)", "",
              "| target quadrant | " + " | ".join(conditions) + " |", "|" + "---|" * (len(conditions) + 1)]
    for q in QUADRANTS:
        lines.append(f"| {q} ({_QUADRANT_NAMES[q]}) | " + " | ".join(_fmt(summary["per_target_quadrant"][c][q]) for c in conditions) + " |")
    lines += ["", "| target quadrant: final segment vs target | " + " | ".join(conditions) + " |",
              "|" + "---|" * (len(conditions) + 1)]
    for q in QUADRANTS:
        lines.append(f"| {q} ({_QUADRANT_NAMES[q]}) | " + " | ".join(_fmt(summary["per_target_quadrant_final"][c][q]) for c in conditions) + " |")
    lines += ["", "| start quadrant | " + " | ".join(conditions) + " |", "|" + "---|" * (len(conditions) + 1)]
    for q in QUADRANTS:
        lines.append(f"| {q} ({_QUADRANT_NAMES[q]}) | " + " | ".join(_fmt(summary["per_start_quadrant"][c][q]) for c in conditions) + " |")
    tags = sorted({t for c in conditions for t in summary["per_tag"][c]})
    lines += ["", "| sensitivity tag | " + " | ".join(conditions) + " |", "|" + "---|" * (len(conditions) + 1)]
    for t in tags:
        lines.append(f"| {t} | " + " | ".join(_fmt(summary["per_tag"][c].get(t, {"n": 0})) for c in conditions) + " |")
    kinds: dict[str, dict[str, int]] = {c: {} for c in conditions}
    for s in sessions:
        for seg in s["segments"]:
            for v in seg["violations"]:
                kinds[s["condition"]][v] = kinds[s["condition"]].get(v, 0) + 1
    lines += ["", "## Constraint violations (segments, by kind)", ""]
    for cond in conditions:
        detail = ", ".join(f"{k}: {n}" for k, n in sorted(kinds[cond].items())) or "none"
        lines.append(f"- {cond}: {detail}")
    lines += ["", "## Plots", "",
              "![loop score by segment and by retry](score_by_iteration.png)", "",
              "![planned vs measured trajectories](trajectories.png)", "",
              "![digital twin: distance to target over time](twin.png)", ""]
    return "\n".join(lines) + "\n"


def write_report(folder: Path, meta: dict[str, Any], sessions: list[dict[str, Any]], conditions: Sequence[str],
                 twins: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write results.json, results.csv, report.md and the PNG plots into ``folder`` (with the
    twin-population sections when ``twins`` holds a study from :mod:`.twin_sessions`)."""
    summary = summarise(sessions, conditions)
    comps = comparisons(sessions, conditions)
    meta = {**meta, "fingerprint": fingerprint(sessions)}
    twin_lines: list[str] = []
    if twins is not None:
        meta["twin_fingerprint"] = twin_fingerprint(twins)
        from promptloop.evaluation.report_twins import twin_markdown, twin_summary

        twins = {**twins, "summary": twin_summary(twins)}
        twin_lines = twin_markdown(twins, twins["summary"])
    paths = {name: folder / name for name in ("results.json", "results.csv", "report.md")}
    atomic_write_bytes(paths["results.json"], json.dumps(
        {"meta": meta, "summary": summary, "comparisons": comps, "sessions": sessions,
         **({"twins": twins} if twins is not None else {})}, indent=1).encode())
    atomic_write_bytes(paths["results.csv"], _csv_bytes(sessions))
    from promptloop.evaluation.plots import plot_all

    paths.update(plot_all(folder, sessions, summary, conditions))
    text = _markdown(meta, sessions, summary, comps, conditions)
    if twin_lines:
        text = text.rstrip("\n") + "\n\n" + "\n".join(twin_lines)
    atomic_write_bytes(paths["report.md"], text.encode())
    return paths


def rerender(folder: Path) -> dict[str, Path]:
    """Rewrite the report and plots of a finished run from its ``results.json`` (same numbers).

    ``python -m promptloop.evaluation.report DIR``
    """
    try:
        data = json.loads((Path(folder) / "results.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {Path(folder) / 'results.json'}: {exc}") from exc
    meta = {k: v for k, v in data["meta"].items() if k not in ("fingerprint", "twin_fingerprint")}
    conditions = list(meta.get("conditions") or dict.fromkeys(s["condition"] for s in data["sessions"]))
    twins = data.get("twins")
    if twins is not None:
        twins = {k: v for k, v in twins.items() if k != "summary"}
    return write_report(Path(folder), meta, data["sessions"], conditions, twins=twins)


if __name__ == "__main__":  # pragma: no cover
    import sys

    rerender(Path(sys.argv[1]))
