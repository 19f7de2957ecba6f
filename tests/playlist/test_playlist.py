"""Playlists: spec validation, the arc, resumption after a kill, determinism, variety, the report."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from promptloop.acquisition.affect import Affect, parse_affect
from promptloop.audio.mix import integrated_lufs
from promptloop.errors import InputError
from promptloop.playlist import (
    load_spec,
    parse_spec,
    plan_playlist,
    run_playlist,
    track_arc,
    variety,
)
from promptloop.playlist.planner import track_seed
from promptloop.session.loop import seed_for
from promptloop.synthesis.synth import SynthGenerator

SR = 32000
BASE = {
    "name": "test wind-down",
    "seed": 5,
    "tracks": 2,
    "track_seconds": 4,
    "segments_per_track": 2,
    "start": "anxious",
    "target": "calm",
    "listeners": [
        {"id": "ana", "preferences": {"prefer": ["piano"], "avoid": ["drums"]}},
        {"id": "ben", "target": "relaxed",
         "sensitivities": {"gentle": True, "loudness_ceiling_lufs": -20, "tempo_range_bpm": [60, 80]}},
    ],
}


def _cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "promptloop.cli.main", *args], capture_output=True, text=True,
                          timeout=600, **kwargs)


def _hashes(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*.flac"))}


# -- the spec -----------------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"tempo": 3}, "tempo: unknown key"),
    ({"listeners": [{"id": "ana", "prefs": {}}]}, "listeners[0].prefs: unknown key"),
    ({"start": "grumpyish"}, "start: unknown affect"),
    ({"target": "v=3,a=0"}, "valence must be within"),
    ({"tracks": 0}, "tracks: Input should be greater than or equal to 1"),
    ({"arc": "zigzag"}, "arc: Input should be 'iso' or 'hold'"),
    ({"track_seconds": 100, "segments_per_track": 1}, "per segment; it must be within"),
    ({"listeners": []}, "listeners: List should have at least 1 item"),
    ({"listeners": [{"id": "ana"}, {"id": "ana"}]}, "listener ids must be unique; repeated: ana"),
    ({"listeners": [{"id": "Ana Smith"}]}, "listeners[0].id: must be 1-40 lower-case"),
    ({"listeners": [{"id": "ana", "preferences": {"prefer": ["drums"], "avoid": ["drums"]}}]}, "conflicting preferences"),
    ({"target": None}, "has no target affect"),
    ({"variety": {"min_distance": 2}}, "variety.min_distance"),
    ({"backends": {"generator": "no such/thing"}}, "backends.generator: backend names"),
])
def test_spec_errors_say_where_and_what(change, message):
    with pytest.raises(InputError) as info:
        parse_spec({**BASE, **change}, "spec.yaml")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_spec_defaults_and_per_listener_overrides(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(BASE))
    spec = load_spec(path)
    assert spec.segment_seconds == 2.0 and spec.crossfade_seconds == 0.5 and spec.format == "flac"
    ana, ben = spec.listeners
    assert spec.target_of(ana) == parse_affect("calm") and spec.target_of(ben) == parse_affect("relaxed")
    assert ben.to_preferences().gentle and ben.to_preferences().loudness_ceiling_lufs == -20
    assert ben.to_preferences().tempo_range_bpm == (60.0, 80.0) and ana.to_preferences().tempo_range_bpm is None


def test_cli_refuses_a_bad_spec_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tracks: [1, 2\nlisteners: x")
    res = _cli("playlist", str(bad), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "not valid YAML (line" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump({**BASE, "segments": 3}))
    res = _cli("playlist", str(wrong), "--out", str(tmp_path / "o"), "--engine", "spark")
    assert res.returncode == 2 and "segments: unknown key" in res.stderr
    assert not (tmp_path / "o").exists()


def test_a_bad_tempo_range_names_its_listener(tmp_path):
    bad = json.loads(json.dumps(BASE))
    bad["listeners"][1]["sensitivities"]["tempo_range_bpm"] = [80, 60]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(InputError, match=r"listeners\[1\].*tempo range"):
        load_spec(path)


# -- the arc ------------------------------------------------------------------------------------

def test_iso_arc_matches_then_moves_and_hold_stays():
    start, target = Affect(-0.6, 0.7), Affect(0.4, -0.6)
    arc = track_arc(start, target, 4, "iso")
    assert arc[0] == (start, start)  # the first track meets the listener
    assert all(arc[k][1] == arc[k + 1][0] for k in range(3))  # each track starts where the last ended
    assert arc[-1][1] == target
    ends = [end.distance(target) for _, end in arc]
    assert ends == sorted(ends, reverse=True)
    assert track_arc(start, target, 3, "hold") == [(target, target)] * 3
    spec = parse_spec({**BASE, "tracks": 3})
    plans = plan_playlist(spec)
    assert [p.key for p in plans["ben"]] == ["ben/01", "ben/02", "ben/03"]
    assert plans["ben"][-1].end == parse_affect("relaxed")


def test_track_seeds_depend_on_listener_not_position():
    assert track_seed(5, "ana", 0, 0) != track_seed(5, "ana", 0, 1) != track_seed(5, "ana", 1, 0)
    assert track_seed(5, "ana", 0, 0) == track_seed(5, "ana", 0, 0) != track_seed(5, "ben", 0, 0)


# -- resumption after a kill, and determinism -----------------------------------------------------

@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """Run the CLI (local process pool), SIGKILL the whole job after its first finished track,
    look at what was left, then run the same command again."""
    root = tmp_path_factory.mktemp("resume")
    spec_path = root / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(BASE))
    out = root / "out"
    args = [sys.executable, "-m", "promptloop.cli.main", "playlist", str(spec_path), "--out", str(out),
            "--engine", "local", "--workers", "1"]
    job = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    manifest = out / "manifest.json"
    deadline = time.monotonic() + 300
    finished_before_kill: dict[str, dict] = {}
    while time.monotonic() < deadline and job.poll() is None:
        if manifest.exists():
            finished_before_kill = json.loads(manifest.read_text())["tracks"]
            if finished_before_kill:
                break
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)
    job.communicate(timeout=60)
    assert finished_before_kill, "the job never finished a track"
    finished_before_kill = json.loads(manifest.read_text())["tracks"]  # another may have finished meanwhile
    after_kill = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    stats = {key: (out / e["file"]).stat() for key, e in finished_before_kill.items()}
    resumed = _cli("playlist", str(spec_path), "--out", str(out), "--engine", "serial")
    return {"out": out, "spec": spec_path, "before": finished_before_kill, "after_kill": after_kill,
            "stats": stats, "resumed": resumed, "killed_rc": job.returncode}


def test_a_kill_leaves_only_whole_tracks(killed_and_resumed):
    assert killed_and_resumed["killed_rc"] == -signal.SIGKILL
    tracks = [p for p in killed_and_resumed["after_kill"] if p.suffix == ".flac"]
    assert tracks
    for path in tracks:  # every track file present after the kill is complete and decodes
        audio, rate = sf.read(path)
        assert rate == SR and audio.shape[0] == pytest.approx(4 * SR, abs=2)
        assert not path.name.startswith(".")


def test_resume_skips_finished_tracks_by_hash(killed_and_resumed):
    res, out = killed_and_resumed["resumed"], killed_and_resumed["out"]
    assert res.returncode == 0, res.stderr
    manifest = json.loads((out / "manifest.json").read_text())["tracks"]
    assert sorted(manifest) == ["ana/01", "ana/02", "ben/01", "ben/02"]
    for key, entry in killed_and_resumed["before"].items():
        assert manifest[key]["sha256"] == entry["sha256"]
        now = (out / entry["file"]).stat()
        then = killed_and_resumed["stats"][key]
        assert (now.st_ino, now.st_mtime_ns) == (then.st_ino, then.st_mtime_ns)  # not rewritten
    reused = len(killed_and_resumed["before"])
    assert f"{4 - reused} track(s) made, {reused} reused" in res.stdout
    for entry in manifest.values():
        assert hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
        assert entry["worker"]["engine"] in ("local", "serial") and entry["worker"]["loads"] == 1
    assert not [p for p in out.rglob("*.part")]


def test_same_spec_same_bytes_whatever_the_engine_and_interruptions(killed_and_resumed, tmp_path):
    spec = load_spec(killed_and_resumed["spec"])
    fresh = tmp_path / "fresh"
    result = run_playlist(spec, fresh, "serial")
    assert result.status == "done" and len(result.made) == 4
    assert _hashes(fresh) == _hashes(killed_and_resumed["out"])
    again = run_playlist(spec, fresh, "serial")  # a finished playlist: everything verified, nothing made
    assert again.made == [] and len(again.skipped) == 4


def test_a_changed_spec_does_not_mix_into_an_old_folder(killed_and_resumed):
    other = parse_spec({**BASE, "seed": 6})
    with pytest.raises(InputError, match="holds a different playlist"):
        run_playlist(other, killed_and_resumed["out"], "serial")


def test_a_corrupted_track_is_made_again(killed_and_resumed, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(killed_and_resumed["out"], out)
    target = out / "ana" / "02.flac"
    good = target.read_bytes()
    target.write_bytes(good[: len(good) // 2])  # e.g. damaged by a copy
    result = run_playlist(load_spec(killed_and_resumed["spec"]), out, "serial")
    assert result.made == ["ana/02"] and target.read_bytes() == good


# -- the report -----------------------------------------------------------------------------------

def test_report_tracks_tags_and_playlists(killed_and_resumed):
    out = killed_and_resumed["out"]
    report = json.loads((out / "report.json").read_text())
    assert [lst["id"] for lst in report["listeners"]] == ["ana", "ben"]
    for lst in report["listeners"]:
        assert len(lst["tracks"]) == 2
        for t in lst["tracks"]:
            assert 0 <= t["mean_score"] <= 1 and len(t["segments"]) == 2
            assert all("drums" not in s["prompt"] for s in t["segments"])
            assert set(t["planned"]) == {"start", "end"} and set(t["measured"]) == {"end", "mean"}
        first, second = lst["tracks"]
        assert first["planned"]["start"] == first["planned"]["end"] == lst["start"]  # iso: match first
        assert second["planned"]["end"] == lst["target"]
        assert second["variety"]["distance"] >= report["variety"]["min_distance"]
        # the playlist lists the listener's tracks in order, relative to its folder
        lines = (out / lst["playlist"]).read_text().splitlines()
        assert lines[0] == "#EXTM3U" and [ln for ln in lines if not ln.startswith("#")] == ["01.flac", "02.flac"]
        png = (out / lst["arc_plot"]).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    md = (out / "report.md").read_text()
    assert "| # | title | planned start → end | measured end | score |" in md
    assert "![planned vs measured arc](ana/arc.png)" in md
    assert report["listeners"][0]["tracks"][1]["segments"][1]["prompt"] in md
    with sf.SoundFile(out / "ana" / "02.flac") as handle:
        assert handle.title.startswith("Track 2: anxious") and handle.tracknumber == "2/2"
        assert handle.album == "test wind-down (ana)"
        assert report["listeners"][0]["tracks"][1]["segments"][0]["prompt"] in handle.comment
    # measured audio: the gentle listener's ceiling holds over the whole track
    for t in report["listeners"][1]["tracks"]:
        audio, rate = sf.read(out / t["file"], dtype="float32")
        assert integrated_lufs(audio, rate) <= -20.0 + 0.5


# -- variety ----------------------------------------------------------------------------------------

def _render(prompt_affect: str, seed: int, seconds: float = 6.0) -> np.ndarray:
    from promptloop.feedback.base import PlanContext
    from promptloop.feedback.planners.rule import RulePlanner
    from promptloop.representation.preferences import Preferences
    from promptloop.synthesis.base import GenerationRequest
    from promptloop.synthesis.synth import SynthGenerator

    a = parse_affect(prompt_affect)
    plan = RulePlanner().draft(PlanContext(0, 1, seconds, a, a, a, Preferences()))
    return SynthGenerator(use_embeddings=False).generate([GenerationRequest(plan, seconds, seed)])[0]


def test_distance_separates_copies_from_different_music():
    track = _render("calm", 1)
    f = variety.features(track, SR)
    copies = [0.5 * track, np.concatenate([np.zeros(SR // 4, np.float32), track[: -SR // 4]]),
              track + np.random.default_rng(0).normal(0, 0.003, track.size).astype(np.float32)]
    for copy in copies:
        assert variety.distance(f, variety.features(copy, SR)) < 0.02
    assert variety.distance(f, variety.features(_render("calm", 2), SR)) > 0.08  # same prompt, new seed
    assert variety.distance(f, variety.features(_render("anxious", 1), SR)) > 0.3


class CoarseSeedSynth(SynthGenerator):
    """A fake generator with only two distinct seeds (seed % 2), so tracks can come out identical."""

    name = "coarse-synth"

    def generate(self, requests):
        return super().generate([dataclasses.replace(r, seed=r.seed % 2) for r in requests])


def test_a_near_duplicate_is_made_again_with_a_new_seed(tmp_path):
    from promptloop.wiring.registry import Registries

    registries = Registries.with_builtins()
    registries.generators.register("coarse-synth", lambda settings: CoarseSeedSynth(use_embeddings=False))
    effective = lambda spec_seed, index, attempt: seed_for(track_seed(spec_seed, "ana", index, attempt), 0, 0, 0) % 2  # noqa: E731
    # A playlist seed whose second track first renders as a copy of the first, then differs.
    seed = next(s for s in range(1000) if effective(s, 0, 0) == effective(s, 1, 0) != effective(s, 1, 1))
    spec = parse_spec({**BASE, "seed": seed, "arc": "hold", "segments_per_track": 1, "track_seconds": 3,
                       "listeners": [{"id": "ana"}], "backends": {"generator": "coarse-synth"}})
    events: list[dict] = []
    result = run_playlist(spec, tmp_path / "o", "serial", on_progress=events.append, registries=registries)
    retries = [e for e in events if e["kind"] == "variety_retry"]
    assert len(retries) == 1 and retries[0]["key"] == "ana/02" and retries[0]["distance"] < 0.02
    second = result.report["listeners"][0]["tracks"][1]
    assert second["attempt"] == 1 and second["variety"]["met"] and second["variety"]["attempts"] == 2
    assert second["variety"]["distance"] >= 0.08
    assert result.made == ["ana/01", "ana/02", "ana/02"]

    # With a single render allowed, the copy is kept and the report says so.
    strict = parse_spec({**spec.model_dump(), "variety": {"max_attempts": 1}})
    kept = run_playlist(strict, tmp_path / "o2", "serial", registries=registries).report["listeners"][0]
    assert not kept["variety_met"] and kept["tracks"][1]["variety"]["distance"] < 0.02
    assert "**too close**" in (tmp_path / "o2" / "report.md").read_text()


@pytest.mark.parametrize("path", sorted(Path(__file__).parents[2].glob("examples/playlists/*")))
def test_example_specs_are_valid(path):
    spec = load_spec(path)
    assert sum(len(tracks) for tracks in plan_playlist(spec).values()) == spec.tracks * len(spec.listeners)


def test_cancel_stops_after_finished_tracks_and_the_job_resumes(tmp_path):
    spec = parse_spec({**BASE, "segments_per_track": 1, "track_seconds": 2, "listeners": [{"id": "dee"}]})
    done: list[str] = []
    result = run_playlist(spec, tmp_path / "o", "serial", cancel=lambda: bool(done),
                          on_progress=lambda e: done.append(e["key"]) if e["kind"] == "track_done" else None)
    assert result.status == "cancelled" and result.made == ["dee/01"] and result.report is None
    assert not (tmp_path / "o" / "report.json").exists()
    finished = run_playlist(spec, tmp_path / "o", "serial")
    assert finished.status == "done" and finished.skipped == ["dee/01"] and finished.made == ["dee/02"]


def test_public_api():
    import promptloop.playlist as playlist

    assert playlist.__all__ == ["PlaylistResult", "PlaylistSpec", "TrackPlan", "load_spec", "parse_spec",
                                "plan_playlist", "run_playlist", "track_arc"]
