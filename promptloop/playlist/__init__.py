"""Batch playlists: many multi-segment tracks for one or more listeners along a planned arc, made
on a local process pool or on Ray, resumable, varied, with M3U8 playlists and a report.

>>> from promptloop.playlist import load_spec, run_playlist  # doctest: +SKIP
>>> run_playlist(load_spec("examples/playlists/wind_down.yaml"), "out/wind_down", engine="local")  # doctest: +SKIP
"""

from promptloop.playlist.planner import TrackPlan, plan_playlist, track_arc
from promptloop.playlist.runner import PlaylistResult, run_playlist
from promptloop.playlist.spec import PlaylistSpec, load_spec, parse_spec

__all__ = [
    "PlaylistResult",
    "PlaylistSpec",
    "TrackPlan",
    "load_spec",
    "parse_spec",
    "plan_playlist",
    "run_playlist",
    "track_arc",
]
