"""A small playlist on a real local Ray instance: the tracks come from Ray actors, not the driver."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import soundfile as sf

from promptloop.playlist import parse_spec, run_playlist

ray = pytest.importorskip("ray")

SPEC = {
    "name": "ray test",
    "seed": 11,
    "tracks": 3,
    "track_seconds": 2,
    "segments_per_track": 1,
    "arc": "iso",
    "start": "tense",
    "target": "serene",
    "format": "wav",
    "listeners": [{"id": "cai", "preferences": {"prefer": ["soft pads"]}}],
}


def test_ray_workers_make_the_tracks(tmp_path):
    assert not ray.is_initialized()
    events: list[dict] = []
    result = run_playlist(parse_spec(SPEC), tmp_path / "o", "ray", workers=2, on_progress=events.append)
    assert not ray.is_initialized()  # the engine started its own Ray and shut it down
    assert result.status == "done" and sorted(result.made) == ["cai/01", "cai/02", "cai/03"]

    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())["tracks"]
    workers = [entry["worker"] for entry in manifest.values()]
    assert {w["engine"] for w in workers} == {"ray"}
    assert all(w["pid"] != os.getpid() for w in workers)  # made in Ray worker processes
    assert all(len(w["node"]) == 56 for w in workers)  # a Ray node id (hex), not a host name
    assert all(w["loads"] == 1 for w in workers)  # backends built once per actor, not per track
    assert all(w["gpus"] == [] for w in workers)  # a CPU generator asks Ray for no GPU
    # Progress from inside the actors reached the driver.
    assert {e["key"] for e in events if e["kind"] == "segment_done"} == {"cai/01", "cai/02", "cai/03"}

    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["engine"] == {"engine": "ray", "workers": 2, "address": "local", "gpus_per_worker": 0.0}
    for entry in manifest.values():
        path = tmp_path / "o" / entry["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        audio, rate = sf.read(path)
        assert rate == 32000 and audio.shape[0] == pytest.approx(2 * 32000, abs=2)
        assert float(abs(audio).max()) > 0.01  # music, not silence


class _FakeCluster:
    """Stands in for the ``ray`` module's resource view: a cluster with two GPUs, or none."""

    def __init__(self, gpus: int) -> None:
        self.gpus = gpus

    def cluster_resources(self) -> dict:
        return {"CPU": 16.0, "GPU": float(self.gpus)} if self.gpus else {"CPU": 16.0}


@pytest.mark.parametrize("generator, setting, gpus, expected", [
    ("musicgen", None, 2, 1.0),  # a GPU generator gets a whole GPU per actor
    ("musicgen", None, 0, 0.0),  # ...unless the cluster has none
    ("synth", None, 2, 0.0),  # CPU generators ask for none
    ("musicgen", 0.5, 2, 0.5),  # the spec can pack two models per GPU
])
def test_gpu_requests_follow_the_generator(generator, setting, gpus, expected):
    from promptloop.wiring.ray_cluster import RayCluster

    cluster = RayCluster.__new__(RayCluster)  # the resource view only: no Ray started
    cluster.ray = _FakeCluster(gpus)
    assert cluster.gpus_for(generator, setting) == expected
