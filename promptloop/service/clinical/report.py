"""The progress report a therapist downloads: one self-contained HTML file (inline PNG plots, no
scripts, no outside resources) that prints to PDF from any browser."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
from typing import Any

__all__ = ["progress_plot_png", "report_html"]


def progress_plot_png(progress: dict[str, Any]) -> bytes:
    """Self-reported valence, arousal and distress before and after each session."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    sessions = progress["sessions"]
    x = list(range(1, len(sessions) + 1))
    fig = Figure(figsize=(9, 3.2), dpi=100)
    axes = fig.subplots(1, 3)
    for ax, key, title, low, high in ((axes[0], "valence", "valence (SAM 1-9)", 1, 9),
                                      (axes[1], "arousal", "arousal (SAM 1-9)", 1, 9),
                                      (axes[2], "distress", "distress (0-10)", 0, 10)):
        for phase, marker, colour in (("pre", "o", "#888888"), ("post", "s", "#1f6fb2")):
            points = [(i, s[phase][key]) for i, s in zip(x, sessions, strict=True)
                      if s[phase] and s[phase].get(key) is not None]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker=marker, color=colour, label=phase)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(low - 0.5, high + 0.5)
        ax.set_xlabel("session")
        ax.set_xticks(x)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list):
        return html.escape(", ".join(map(str, value)) or "–")
    return html.escape(str(value))


def report_html(client: str, therapist: str, progress: dict[str, Any]) -> str:
    """The report as one HTML document (every listener-provided text escaped)."""
    plot = base64.b64encode(progress_plot_png(progress)).decode() if progress["sessions"] else ""
    s = progress["summary"]
    rows = []
    for i, sess in enumerate(progress["sessions"], 1):
        pre, post, change = sess["pre"] or {}, sess["post"] or {}, sess["change"] or {}
        cells = [i, sess["created"].strftime("%Y-%m-%d %H:%M"), sess["title"],
                 f"{sess['segments_done']}/{sess['segments']}", pre.get("valence"), post.get("valence"),
                 change.get("valence"), pre.get("arousal"), post.get("arousal"), change.get("arousal"),
                 pre.get("distress"), post.get("distress"), sess["time_to_target_s"], sess["liked"], sess["avoided"]]
        if progress["includes_physiology"]:
            phys = (sess.get("physiology") or {}).get("change") or {}
            cells.append(phys.get("heart_rate"))
        rows.append("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in cells) + "</tr>")
    heads = ["#", "date", "session", "segments", "valence pre", "post", "Δ", "arousal pre", "post", "Δ",
             "distress pre", "post", "time to target (s)", "liked", "avoided"]
    if progress["includes_physiology"]:
        heads.append("heart rate Δ (bpm)")
    summary = (f"{s['sessions']} sessions, {s['with_both_reports']} with reports before and after; mean change "
               f"valence {_cell(s['mean_valence_change'])}, arousal {_cell(s['mean_arousal_change'])}, distress "
               f"{_cell(s['mean_distress_change'])}; target reached in {s['sessions_reaching_target']} "
               f"(mean {_cell(s['mean_time_to_target_s'])} s).")
    img = f'<img alt="self-report before and after each session" src="data:image/png;base64,{plot}">' if plot else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>promptloop progress: {html.escape(client)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 6px;font-size:12px}}th{{background:#f3f3f3}}img{{max-width:100%}}</style>
</head><body>
<h1>Progress report: {html.escape(client)}</h1>
<p>Prepared for {html.escape(therapist)} on {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC by promptloop.
Self-reports: Self-Assessment-Manikin-style 9-point scales (valence 1 unhappy – 9 happy, arousal 1 calm – 9
excited) and distress 0–10, before and after each session.</p>
<p id="summary">{html.escape(summary)}</p>
{img}
<table><thead><tr>{"".join(f"<th>{html.escape(h)}</th>" for h in heads)}</tr></thead>
<tbody>{"".join(rows)}</tbody></table>
</body></html>
"""
