"""The wheel works outside the repository: build it (``python -m build``), install it into a fresh
virtualenv in a temporary folder, and run ``promptloop session``, ``promptloop serve`` (health and the
chat page), ``promptloop playlist`` and ``promptloop eval core`` from a folder that is not the checkout.

Quick by design: the fresh venv sees this environment's installed dependencies through a ``.pth``
line (so nothing is downloaded and the wheel installs with ``--no-deps``); only promptloop itself
comes from the wheel, which the test checks before running anything.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest
import soundfile as sf
import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["promptloop", "server", "prompts", "eval/scenarios", "pyproject.toml", "setup.py", "README.md"]


def _run(venv: Path, *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PROMPTLOOP_"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PROMPTLOOP_DATA_DIR"] = str(cwd / "data")
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(venv, work folder): the wheel built from a copy of the sources and installed alone."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    for name in SOURCES:  # a copy, so that the build leaves the checkout untouched
        source, target = ROOT / name, src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(root / "dist"),
                            str(src)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheel = next((root / "dist").glob("promptloop-*.whl"))

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "_promptloop_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # the deps, not promptloop
    work = root / "work"
    work.mkdir()
    done = _run(venv, "python", "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel), cwd=work)
    assert done.returncode == 0, done.stderr
    where = _run(venv, "python", "-c", "import json, promptloop, promptloop_server; "
                 "print(json.dumps([promptloop.__file__, promptloop_server.__file__]))", cwd=work)
    assert where.returncode == 0, where.stderr
    for path in json.loads(where.stdout):  # the wheel's copy, never the checkout's
        assert Path(path).is_relative_to(venv), path
    return venv, work


def test_the_wheel_holds_its_data_files(installed: tuple[Path, Path]) -> None:
    venv, work = installed
    probe = _run(venv, "python", "-c", "import json; "
                 "from promptloop.feedback.templates import PROMPTS_DIR, load_template; "
                 "from promptloop.evaluation.scenarios import load_suite; "
                 "load_template('draft_segment'); "
                 "print(json.dumps([str(PROMPTS_DIR), len(load_suite('core').scenarios)]))", cwd=work)
    assert probe.returncode == 0, probe.stderr
    prompts, scenarios = json.loads(probe.stdout)
    assert Path(prompts).is_relative_to(venv) and scenarios > 0
    listing = _run(venv, "python", "-m", "pip", "show", "--files", "promptloop", cwd=work).stdout
    for name in ("promptloop_server/static/chat.html", "promptloop_server/static/chat.js",
                 "promptloop/service/migrations/versions/"):
        assert name in listing, name
    assert "License-Expression: Apache-2.0" in (next(venv.glob("lib/python*/site-packages/promptloop-*.dist-info"))
                                                / "METADATA").read_text()


def test_session_from_the_wheel(installed: tuple[Path, Path]) -> None:
    venv, work = installed
    done = _run(venv, "promptloop", "session", "--start", "anxious", "--target", "calm", "--segments", "2",
                "--segment-seconds", "2", "--seed", "3", "--out", "out/session", cwd=work)
    assert done.returncode == 0, done.stderr
    info = sf.info(str(work / "out" / "session" / "session.wav"))
    assert info.frames / info.samplerate == pytest.approx(4.0, abs=0.6)


def test_playlist_from_the_wheel(installed: tuple[Path, Path]) -> None:
    venv, work = installed
    spec = work / "spec.yaml"
    spec.write_text(yaml.safe_dump({"name": "wheel", "seed": 1, "tracks": 1, "track_seconds": 4, "segments_per_track": 2,
                                    "start": "anxious", "target": "calm", "listeners": [{"id": "ana"}]}))
    done = _run(venv, "promptloop", "playlist", str(spec), "--out", "out/playlist", "--engine", "serial", cwd=work)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((work / "out" / "playlist" / "manifest.json").read_text())
    assert len(manifest["tracks"]) == 1


def test_eval_core_from_the_wheel(installed: tuple[Path, Path]) -> None:
    venv, work = installed
    # One scenario, one condition and a small twin study: the default study (12 + 6 twins) alone
    # takes minutes on two busy cores.
    done = _run(venv, "promptloop", "eval", "core", "--seeds", "1", "--conditions", "static", "--scenarios", "1",
                "--twins", "1", "--personalised-twins", "0", "--out", "out/eval", cwd=work)
    assert done.returncode == 0, done.stderr
    results = json.loads((work / "out" / "eval" / "results.json").read_text())
    assert results["meta"]["suite"] == "core"
    assert (work / "out" / "eval" / "report.md").exists()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_from_the_wheel(installed: tuple[Path, Path]) -> None:
    venv, work = installed
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PROMPTLOOP_"))}
    env["PROMPTLOOP_DATA_DIR"] = str(work / "serve-data")
    log = (work / "serve.log").open("w")
    process = subprocess.Popen([str(venv / "bin" / "promptloop"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                               cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (work / "serve.log").read_text()
            try:
                health = httpx.get(base + "/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (work / "serve.log").read_text()
                time.sleep(0.2)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        page = httpx.get(base + "/chat", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        script = httpx.get(base + "/static/chat.js", timeout=10)
        assert script.status_code == 200 and len(script.text) > 1000
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
