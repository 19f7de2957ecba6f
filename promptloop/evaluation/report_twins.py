"""The twin-population sections of the report: statistics and sentences written from the numbers.

Targets (issue 14): the closed loop beats the open loop on time in the target zone *and* on the
final distance in at least 80 % of held-out twins, with a paired test p < 0.01 on each; from the
third session on, personalised sessions reach the target zone sooner than fresh ones (paired test).
Each target line says "met" or "**missed**" plainly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from promptloop.acquisition.affect import AFFECT_WORDS
from promptloop.evaluation.stats import mean_ci, paired_test
from promptloop.evaluation.twins import HELD_OUT_SEEDS

__all__ = ["twin_markdown", "twin_summary"]

WIN_SHARE_TARGET = 0.8
P_TARGET = 0.01


def _paired(a: list[float], b: list[float], higher_is_better: bool) -> dict[str, Any]:
    result = paired_test(a, b)
    wins = result.wins if higher_is_better else result.losses
    return {"a_mean": float(np.mean(a)), "b_mean": float(np.mean(b)), "difference": result.difference.__dict__,
            "better": wins, "worse": result.losses if higher_is_better else result.wins, "ties": result.ties,
            "n": len(a), "share_better": wins / len(a) if a else 0.0, "p_value": result.p_value}


_AXES = ("valence", "arousal")


def _axis_gaps(row: dict[str, Any], length_s: float) -> dict[str, tuple[float, float]] | None:
    """How far each arm ended from the target on each axis: {axis: (closed, open)}, from the last
    point of each arm's timeline; None when a timeline does not reach the session's end."""
    target = AFFECT_WORDS.get(row.get("pair", ["", ""])[1])
    ends = [row[arm].get("timeline", [[0.0]])[-1] for arm in ("closed", "open")]
    if target is None or any(len(end) != 3 or abs(end[0] - length_s) > 1e-6 for end in ends):
        return None
    wanted = (target.valence, target.arousal)
    return {axis: (abs(ends[0][k + 1] - wanted[k]), abs(ends[1][k + 1] - wanted[k])) for k, axis in enumerate(_AXES)}


def _final_axes(rows: list[dict[str, Any]], length_s: float) -> dict[str, Any]:
    """Final distance per axis, closed vs open, and for the twins the closed loop left further from
    the target, on which axis most of the difference lies (no wearable reading senses valence)."""
    gaps = [_axis_gaps(r, length_s) for r in rows]
    if not rows or any(g is None for g in gaps):
        return {}
    known = [g for g in gaps if g is not None]
    out: dict[str, Any] = {axis: _paired([g[axis][0] for g in known], [g[axis][1] for g in known], False)
                           for axis in _AXES}
    lost = [g for r, g in zip(rows, known, strict=True) if r["closed"]["final_distance"] >= r["open"]["final_distance"]]
    out["losses"] = {axis: sum(1 for g in lost if max(_AXES, key=lambda a: g[a][0] - g[a][1]) == axis) for axis in _AXES}
    return out


def twin_summary(study: dict[str, Any]) -> dict[str, Any]:
    """Paired statistics of both experiments."""
    rows = study["paired"]
    out: dict[str, Any] = {"closed_vs_open": {}, "personalised": {}}
    if rows:
        out["closed_vs_open"] = {
            "zone_seconds": _paired([r["closed"]["zone_seconds"] for r in rows],
                                    [r["open"]["zone_seconds"] for r in rows], True),
            "final_distance": _paired([r["closed"]["final_distance"] for r in rows],
                                      [r["open"]["final_distance"] for r in rows], False),
            "both": sum(1 for r in rows if r["closed"]["zone_seconds"] > r["open"]["zone_seconds"]
                        and r["closed"]["final_distance"] < r["open"]["final_distance"]) / len(rows),
            "final_axes": _final_axes(rows, study["study"]["segments"] * study["study"]["segment_seconds"]),
        }
    by_session: dict[int, dict[str, list[float]]] = {}
    for series in study["series"]:
        for s in series["sessions"]:
            slot = by_session.setdefault(s["session"], {"fresh": [], "personalised": []})
            slot["fresh"].append(s["fresh"]["time_to_zone"])
            slot["personalised"].append(s["personalised"]["time_to_zone"])
    per = {}
    for k, v in sorted(by_session.items()):
        per[k] = {"fresh": mean_ci(v["fresh"]).__dict__, "personalised": mean_ci(v["personalised"]).__dict__}
    later_p = [t for k, v in by_session.items() if k >= 3 for t in v["personalised"]]
    later_f = [t for k, v in by_session.items() if k >= 3 for t in v["fresh"]]
    out["personalised"] = {"per_session": per,
                           "from_third": _paired(later_p, later_f, False) if later_p else {}}
    return out


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _line(what: str, c: dict[str, Any], unit: str, digits: int = 2) -> str:
    d = c["difference"]
    return (f"- {what}: closed {c['a_mean']:.{digits}f} vs open {c['b_mean']:.{digits}f} {unit} "
            f"(mean paired difference {d['mean']:+.{digits}f}, 95 % CI {d['mean'] - d['half_width']:+.{digits}f} to "
            f"{d['mean'] + d['half_width']:+.{digits}f}); closed better for {c['better']} of {c['n']} twins "
            f"({c['share_better']:.0%}), worse for {c['worse']}, tied for {c['ties']}; Wilcoxon p = {c['p_value']:.2g}.")


def _sensed(s: dict[str, Any]) -> str:
    """What the closed arm read of its twin (a study without ``sensing`` used the wearable)."""
    n = s["readings_per_segment"]
    sensing = s.get("sensing", "wearable")
    if sensing == "wearable":
        return (f"reading heart rate, RMSSD and skin conductance, {n} readings per segment, with the twin's noise, "
                "drift and dropouts")
    told = "; told the twin's exact felt valence and arousal after every segment" if sensing == "exact-affect" else ""
    return (f"**a sensing bound, not the study**: {n} exact readings per segment of the twin's felt arousal "
            f"(no noise, drift or dropout){told}")


def twin_markdown(study: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """The report's twin sections as Markdown lines."""
    s = study["study"]
    held_out = s["first_seed"] >= HELD_OUT_SEEDS.start
    population = "held-out" if held_out else "tuning"
    lines = [f"## Closed loop on the {population} twin population", "",
             f"{s['twins']} simulated listeners from the {population} seed range (seeds {s['first_seed']}–"
             f"{s['first_seed'] + s['twins'] - 1}; the pacer was tuned on seeds 0–999 only), each heard one "
             f"{s['segments']} × {s['segment_seconds']:g} s session twice — open loop (`IsoPacer`) and closed loop "
             f"(`ReadingPacer`, {_sensed(s)}"
             + (f"; asking the twin how they feel (a SAM rating) after every {s['self_report_every']} segments"
                if s.get("self_report_every") else "")
             + ") — with the same start, target and seeds; "
             "1 candidate and no retries in both arms. Target zone: within 0.35 of the target on the circumplex.", ""]
    if s.get("actuation", "audio") != "audio":
        lines += ["**An actuation bound, not the study**: in both arms the twin heard each segment's mode as graded "
                  "by the valence the segment was asked for (in full from ±0.5), not as the measured mode's sign; "
                  "every other cue was measured from the audio.", ""]
    if not s["twins"]:
        lines = []
    c = summary["closed_vs_open"]
    if c:
        zone, dist = c["zone_seconds"], c["final_distance"]
        lines += [_line("Seconds in the target zone", zone, "s", 1),
                  _line("Final distance to the target", dist, "", 3)]
        ok_zone = zone["share_better"] >= WIN_SHARE_TARGET and zone["p_value"] < P_TARGET and zone["difference"]["mean"] > 0
        ok_dist = dist["share_better"] >= WIN_SHARE_TARGET and dist["p_value"] < P_TARGET and dist["difference"]["mean"] < 0
        axes = c.get("final_axes")
        if axes:
            lost = sum(axes["losses"].values())
            lines.append("- Final distance per axis (how far from the target's value): "
                         + "; ".join(f"{axis} closed {axes[axis]['a_mean']:.3f} vs open {axes[axis]['b_mean']:.3f}, "
                                     f"closed closer for {axes[axis]['better']} of {axes[axis]['n']}" for axis in _AXES)
                         + (f". Of the {lost} twins the closed loop left further from the target, most of the "
                            f"difference is valence for {axes['losses']['valence']} (no wearable reading senses "
                            f"valence) and arousal for {axes['losses']['arousal']}." if lost else "."))
        lines += [f"- Both at once (more time in the zone and closer at the end): {c['both']:.0%} of twins.",
                  f"- Target (closed better in ≥ 80 % of twins, p < 0.01) on time in zone: {_verdict(ok_zone)}; "
                  f"on final distance: {_verdict(ok_dist)}.", ""]
        decisions: dict[str, int] = {}
        for r in study["paired"]:
            for d in r["closed"].get("decisions", []):
                kind = d.split(":")[0].split(" ")[0] if d.startswith(("probe", "suspect", "self-report")) else d  # not per sound or rating
                decisions[kind] = decisions.get(kind, 0) + 1
        kinds: dict[str, int] = {}
        sessions = [r[arm] for r in study["paired"] for arm in ("open", "closed")]
        sessions += [s[arm] for series in study["series"] for s in series["sessions"] for arm in ("fresh", "personalised")]
        for session in sessions:
            for kind in session.get("violations", []):
                kinds[kind] = kinds.get(kind, 0) + 1
        found = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"
        lines += [f"- Audio-level constraint violations over all {len(sessions)} twin sessions (the listener's avoid list, "
                  f"loudness ceiling and gentle mode, measured on the audio; target 0): {found} — "
                  f"{_verdict(not kinds)}.", ""]
        lines += ["Closed-loop decisions over all sessions: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(decisions.items())) + ".", ""]
    p = summary["personalised"]
    lines += [f"## Personalised sessions on the {population} twin population", "",
              f"{s['personalised_twins']} twins, {s['sessions_per_twin']} sessions each (a different start and "
              "target per session); both arms use the closed loop; the personalised arm carries the listener "
              "profile learned from its earlier sessions (suspected triggers avoided, a ceiling for calming music seen "
              "at least twice (capping calming sessions only), the response curve and the waypoint offsets that worked, how soon the schedule may "
              "reach the target, the lead), the fresh "
              "arm starts each session with an empty profile. Session 1 is the same session in both arms. Outcome: "
              "seconds until the twin first enters the target zone (a session that never gets there counts as its "
              "full length).", "",
              "| session | fresh (s) | personalised (s) |", "|---|---|---|"]
    for k, v in p["per_session"].items():
        lines.append(f"| {k} | {v['fresh']['mean']:.1f} ± {v['fresh']['half_width']:.1f} | "
                     f"{v['personalised']['mean']:.1f} ± {v['personalised']['half_width']:.1f} |")
    later = p.get("from_third") or {}
    if later:
        d = later["difference"]
        sooner = d["mean"] < 0 and later["p_value"] < 0.05
        lines += ["", f"- From the third session on: personalised {later['a_mean']:.1f} s vs fresh {later['b_mean']:.1f} s "
                  f"to the zone (mean paired difference {d['mean']:+.1f} s, 95 % CI {d['mean'] - d['half_width']:+.1f} to "
                  f"{d['mean'] + d['half_width']:+.1f}); sooner in {later['better']} of {later['n']} sessions, later in "
                  f"{later['worse']}, tied in {later['ties']}; Wilcoxon p = {later['p_value']:.2g}.",
                  f"- Target (personalised sessions reach the zone sooner from the third session on, p < 0.05): "
                  f"{_verdict(sooner)}."]
    return lines + [""]
