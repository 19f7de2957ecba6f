"""Property-based fuzzing of everything that reads outside input: audio files, playlist specs,
evaluation scenario files, readings files and the readings endpoint.  Each must answer with a value
or a clear :class:`InputError` (422 over HTTP): never another exception, a crash or a 500, and memory
stays bounded (hours-long audio and oversized specs are refused before they are decoded).

``PROMPTLOOP_SOAK=1`` runs many more examples."""

from __future__ import annotations

import io
import json
import struct
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rel_support import SOAK, Api, soak

from dbs import database_for
from promptloop.audio.io import MAX_INPUT_SECONDS, load_audio
from promptloop.cli.session import load_readings
from promptloop.errors import InputError
from promptloop.evaluation.scenarios import load_suite
from promptloop.playlist.spec import MAX_SPEC_BYTES, load_spec, parse_spec

SR = 32000
FUZZ = settings(max_examples=soak(30, 600), deadline=None, database=None, derandomize=not SOAK,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


_FOLDER = tempfile.TemporaryDirectory(prefix="promptloop-fuzz-")  # one file, rewritten per example


def _file(data: bytes, suffix: str) -> Path:
    path = Path(_FOLDER.name) / f"input{suffix}"
    path.write_bytes(data)
    return path


def _clean_or_input_error(call: Callable[[], Any]) -> Any:
    """The call returns or raises InputError (with a message); anything else fails the test."""
    try:
        return call()
    except InputError as exc:
        assert str(exc).strip(), "an InputError must say what is wrong"
        return exc


def _wav(rate: int = 16000, channels: int = 1, bits: int = 16, frames: int = 400, fmt: int = 1,
         samples: bytes | None = None) -> bytes:
    """A WAV file built by hand, so the header can say anything."""
    block = max(1, channels * bits // 8)
    data = samples if samples is not None else bytes(frames * block)
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate & 0xFFFFFFFF, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    return (b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt_chunk) + 8 + len(data)) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + b"data" + struct.pack("<I", len(data)) + data)


def _good(fmt: str = "WAV") -> bytes:
    t = np.arange(SR // 4) / SR
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SR, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


def _check_audio(path: Path) -> None:
    result = _clean_or_input_error(lambda: load_audio(path, SR))
    if not isinstance(result, InputError):
        assert result.ndim == 1 and result.dtype == np.float32 and result.size > 0
        assert np.all(np.isfinite(result)) and float(np.max(np.abs(result))) <= 1.0 + 1e-6


# -- audio ----------------------------------------------------------------------------------------
@FUZZ
@given(st.binary(max_size=4096), st.sampled_from([".wav", ".flac", ".ogg", ".mp3", ".bin"]))
@example(b"", ".wav")
@example(b"RIFF", ".wav")
@example(b"fLaC" + bytes(40), ".flac")
def test_random_bytes(data: bytes, suffix: str) -> None:
    _check_audio(_file(data, suffix))


@FUZZ
@given(st.sampled_from(["WAV", "FLAC"]), st.floats(0.0, 1.0))
def test_truncated_files(fmt: str, fraction: float) -> None:
    data = _good(fmt)
    _check_audio(_file(data[: int(len(data) * fraction)], f".{fmt.lower()}"))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), min_size=1, max_size=8))
def test_corrupted_headers(edits: list[tuple[int, int]]) -> None:
    data = bytearray(_good("WAV"))
    for offset, value in edits:
        data[offset] = value
    _check_audio(_file(bytes(data), ".wav"))


@FUZZ
@given(st.integers(1, 2**32 - 1), st.integers(1, 8), st.sampled_from([8, 16, 24, 32]))
@example(1, 1, 16)
@example(3999, 1, 16)
@example(384001, 1, 16)
@example(2**32 - 1, 1, 16)
def test_extreme_sample_rates(rate: int, channels: int, bits: int) -> None:
    path = _file(_wav(rate, channels, bits, frames=200), ".wav")
    result = _clean_or_input_error(lambda: load_audio(path, SR))
    if not 4000 <= rate <= 384000:
        assert isinstance(result, InputError)


@FUZZ
@given(st.integers(0, 999), st.sampled_from([np.nan, np.inf, -np.inf]))
def test_non_finite_samples_are_refused(index: int, bad: float) -> None:
    samples = np.zeros(1000, np.float32)
    samples[index] = bad
    path = _file(_wav(16000, 1, 32, fmt=3, samples=samples.tobytes()), ".wav")  # IEEE float
    result = _clean_or_input_error(lambda: load_audio(path, SR))
    assert isinstance(result, InputError) and "NaN or infinite" in str(result)


def test_zero_length_audio() -> None:
    for data in (b"", _wav(frames=0)):
        assert isinstance(_clean_or_input_error(lambda d=data: load_audio(_file(d, ".wav"), SR)), InputError)


def test_hours_long_audio_is_refused_before_decoding(tmp_path: Path) -> None:
    """A real (sparse) 3-hour, 48 kHz stereo WAV: 2 GB on paper, refused
    with a few kB of memory, because the length is read from the header."""
    rate, channels, seconds = 48000, 2, 3 * 3600
    size = rate * channels * 2 * seconds
    path = tmp_path / "long.wav"
    with path.open("wb") as handle:
        handle.write(_wav(rate, channels, 16, samples=b"")[:-4] + struct.pack("<I", size))
        handle.truncate(44 + size)
    tracemalloc.start()
    with pytest.raises(InputError, match=f"the limit is {MAX_INPUT_SECONDS:.0f} s"):
        load_audio(path, SR)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000, peak  # decoding even a second of it would take more: refused from the header


# -- spec and scenario files ------------------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=20), children, max_size=6),
    max_leaves=40,
)
VALID_SPEC = {"name": "fuzz", "seed": 1, "tracks": 2, "track_seconds": 6, "segments_per_track": 2, "start": "sad",
              "target": "calm", "listeners": [{"id": "ana", "preferences": {"prefer": ["piano"], "avoid": ["drums"]}}]}
SPEC_KEYS = [*VALID_SPEC, "arc", "format", "variety", "backends", "unknown"]
BOMB = "\n".join(['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
                 + [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)])


@FUZZ
@given(JSON)
def test_playlist_spec_from_any_json(data: Any) -> None:
    _clean_or_input_error(lambda: parse_spec(data, "fuzz"))


@FUZZ
@given(st.dictionaries(st.sampled_from(SPEC_KEYS), JSON, max_size=4))
def test_playlist_spec_mutations(changes: dict[str, Any]) -> None:
    _clean_or_input_error(lambda: parse_spec({**VALID_SPEC, **changes}, "fuzz"))


@FUZZ
@given(st.binary(max_size=2048) | st.text(max_size=2048).map(str.encode), st.sampled_from([".yaml", ".json"]))
@example(BOMB.encode() + b"\nlisteners: *a8\n", ".yaml")
@example(b"!!python/object/apply:os.system ['true']", ".yaml")
def test_playlist_spec_files(data: bytes, suffix: str) -> None:
    _clean_or_input_error(lambda: load_spec(_file(data, suffix)))


def test_oversized_spec_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("listeners:\n" + "  - id: ana\n" * (MAX_SPEC_BYTES // 8))
    tracemalloc.start()
    with pytest.raises(InputError, match="larger than"):
        load_spec(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100_000


SCENARIO = {"suite": "fuzz", "scenarios": [{"id": "a", "start": "sad", "target": "calm"}]}


@FUZZ
@given(st.binary(max_size=2048) | JSON.map(lambda d: yaml.safe_dump(d).encode()),)
@example(BOMB.encode() + b"\nsuite: x\nscenarios: *a8\n")
@example(yaml.safe_dump(SCENARIO).encode())
def test_scenario_files(data: bytes) -> None:
    _clean_or_input_error(lambda: load_suite(_file(data, ".yaml")))


@FUZZ
@given(st.dictionaries(st.sampled_from(["suite", "scenarios", "defaults", "seeds", "x"]), JSON, max_size=3))
def test_scenario_mutations(changes: dict[str, Any]) -> None:
    text = yaml.safe_dump({**SCENARIO, **changes}, allow_unicode=True)
    _clean_or_input_error(lambda: load_suite(_file(text.encode(), ".yaml")))


# -- readings ---------------------------------------------------------------------------------------
FIELDS = ["heart_rate", "hrv_rmssd", "skin_conductance", "eeg_alpha", "eeg_beta", "eeg_theta",
          "eeg_alpha_asymmetry", "unknown"]
VALUE = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**6, 10**6) | st.none() | st.text(max_size=5) | st.booleans()
READING = st.dictionaries(st.sampled_from(FIELDS), VALUE, max_size=5)


@FUZZ
@given(st.one_of(JSON, READING, st.fixed_dictionaries({"readings": READING}, optional={"baseline": READING | JSON})))
def test_readings_files(data: Any) -> None:
    text = json.dumps(data)  # NaN and Infinity literals included: Python's parser accepts them
    _clean_or_input_error(lambda: load_readings(_file(text.encode(), ".json")))


@pytest.fixture(scope="module")
def readings_api(tmp_path_factory, shared_backends):
    from fastapi.testclient import TestClient
    from srv_support import factory_for

    from promptloop.service.engine import Service, ServiceConfig
    from promptloop.wiring.settings import Settings
    from promptloop_server import create_app

    data = tmp_path_factory.mktemp("fuzz") / "data"
    service = Service(ServiceConfig(data_dir=data, database_url=database_for(data)),
                      Settings(rate_limit_per_minute=100_000), backend_factory=factory_for(shared_backends))
    service.warm_up()
    with TestClient(create_app(service)) as client:
        api = Api(client, service.create_user("fuzz")[1])
        yield api, api.new_session()["id"]


@FUZZ
@given(st.one_of(JSON, st.fixed_dictionaries({"readings": st.lists(READING, max_size=4)},
                                             optional={"baseline": READING | st.none(), "extra": JSON})))
def test_readings_endpoint(readings_api, body: Any) -> None:
    api, sid = readings_api
    r = api.post(f"/v1/sessions/{sid}/readings", content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code in (200, 422), (r.status_code, r.text)
    if r.status_code == 422:
        assert r.json()["detail"] and all(item["msg"] for item in r.json()["detail"])
    else:
        listener = r.json()["listener"]
        assert -1 <= listener["valence"] <= 1 and -1 <= listener["arousal"] <= 1
