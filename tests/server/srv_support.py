"""Helpers for the server tests (imported by conftest and the test modules)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from fastapi.testclient import TestClient

from dbs import database_for
from promptloop.synthesis.base import GenerationRequest, Generator
from promptloop.wiring.builders import Backends, build_backends
from promptloop.wiring.registry import Registries
from promptloop.wiring.settings import Settings

# Short sessions keep generation in tests to a fraction of a second per segment.
SHORT = {"segments": 3, "segment_seconds": 2.5, "candidates": 1, "max_retries": 0, "crossfade_seconds": 0.5}



class GatedGenerator(Generator):
    """A fake generator that produces a tone only when the test opens the gate (or never, to hang)."""

    name = "gated"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls = 0

    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        self.calls += 1
        self.gate.wait(timeout=60)
        out = []
        for r in requests:
            t = np.arange(int(r.duration_s * self.sample_rate)) / self.sample_rate
            out.append((0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
        return out


def warmed_backends() -> Backends:
    """The embedded default, built and run once (model load and JIT happen here, not in a test)."""
    from promptloop.acquisition.affect import Affect
    from promptloop.session.loop import LoopSession, SessionSpec

    backends = build_backends(Settings())
    spec = SessionSpec(start=Affect(0, 0), target=Affect(0, 0), segments=1, segment_seconds=2.0, candidates=1,
                       max_retries=0, crossfade_seconds=0.0)
    LoopSession(spec, backends.generator, backends.planner, backends.evaluator).next_segment()
    return backends


#: The tests' own backend tables: the built-ins plus whatever fakes a suite registers (never the global ones).
TEST_REGISTRIES = Registries.with_builtins()


def factory_for(shared: Backends, generator: Generator | None = None) -> Callable[..., Backends]:
    default = Settings()  # the installation's defaults (soundfont where its SoundFont is installed, else synth)

    def make(g: str, p: str, e: str) -> Backends:
        if (g, p, e) == (default.generator, default.planner, default.evaluator):
            return Backends(generator or shared.generator, shared.planner, shared.evaluator, shared.fallback_planner)
        return build_backends(Settings(), generator=g, planner=p, evaluator=e, registries=TEST_REGISTRIES)

    return make



class Api:
    """A test client bound to one user's token."""

    def __init__(self, client: TestClient | httpx.Client, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method: str) -> Callable[..., httpx.Response]:
        call = getattr(self.client, method)
        return lambda url, **kw: call(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def new_session(self, **body: Any) -> dict[str, Any]:
        r = self.post("/v1/sessions", json={"start": "anxious", "target": "calm", **SHORT, **body})
        assert r.status_code == 201, r.text
        return r.json()

    def wait_job(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            job = self.get(f"/v1/jobs/{job_id}").json()
            if job["status"] not in ("queued", "running"):
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish in {timeout} s")

    def generate(self, session_id: str, segments: int = 1) -> dict[str, Any]:
        r = self.post(f"/v1/sessions/{session_id}/generate", json={"segments": segments})
        assert r.status_code == 202, r.text
        job = self.wait_job(r.json()["id"])
        assert job["status"] == "succeeded", job
        return job



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, base: str, token: str, data_dir: Path, process: subprocess.Popen[str],
                 log: list[str] | None = None) -> None:
        self.base, self.token, self.data_dir, self.process = base, token, data_dir, process
        self.log = log if log is not None else []  # the server's output so far (a reader thread appends)


#: Servers started and not yet stopped (a failing test shows what they logged: ``live_log``).
RUNNING: list[LiveServer] = []


def service_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``promptloop`` command on ``data_dir``: its folder and, on PostgreSQL runs
    (tests/dbs.py), its database; a command given only the folder would use a SQLite file there."""
    env = {**os.environ, "PROMPTLOOP_DATA_DIR": str(data_dir), **extra}
    if (url := database_for(data_dir)) is not None:
        env["PROMPTLOOP_DATABASE_URL"] = url
    return env


def users_add(data_dir: Path, name: str, *options: str) -> str:
    """The token ``promptloop users add NAME`` prints for a user of the service on ``data_dir``."""
    done = subprocess.run([sys.executable, "-m", "promptloop.cli.main", "users", "add", name, *options],
                          env=service_env(data_dir), capture_output=True, text=True, check=True, timeout=120)
    return done.stdout.strip()


def start_server(data_dir: Path, port: int | None = None, extra_env: dict[str, str] | None = None) -> LiveServer:
    """``promptloop serve`` in a subprocess; returns once /readyz says ready."""
    port = port or free_port()
    env = service_env(data_dir, PYTHONUNBUFFERED="1", **(extra_env or {}))
    process = subprocess.Popen(
        [sys.executable, "-m", "promptloop.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("server exited:\n" + "".join(lines))
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    else:
        process.kill()
        raise AssertionError("server not ready:\n" + "".join(lines))
    match = re.search(r"/chat#token=(pl_[A-Za-z0-9_-]+)", "".join(lines))
    server = LiveServer(base, match.group(1) if match else "", data_dir, process, lines)
    RUNNING.append(server)
    return server


def stop_server(server: LiveServer) -> None:
    if server in RUNNING:
        RUNNING.remove(server)
    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    if server.process.stdout is not None:
        server.process.stdout.close()


#: Debian's chromium (no browser download); the browser tests skip with a reason when it is missing.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, no sandbox (root), nothing that reaches the closed network, audio without a gesture.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required"]


def launch_chromium(playwright: Any) -> Any:
    """A headless Debian chromium driven by playwright."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def open_chat(browser: Any, base: str, token: str, session_id: str, errors: list[str], **page_options: Any) -> Any:
    """A new page on the chat page, signed in with ``token`` and showing ``session_id``; the page's
    uncaught errors are appended to ``errors``."""
    page = browser.new_page(**page_options)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/chat#token={token}")
    page.wait_for_selector("#app:not([hidden])")
    wait_until_session_open(page, session_id)
    return page


def wait_until_session_open(page: Any, session_id: str, timeout_ms: int = 30_000) -> None:
    """Wait until the chat page shows ``session_id`` and listens to its events.  The session select is
    set before the session is fetched, so its value alone races the page (chips not drawn yet, the
    "next" button still without a session)."""
    page.wait_for_function(f"() => st.session !== null && st.session.id === {session_id!r} && st.events !== null"
                           f" && document.getElementById('session-select').value === {session_id!r}",
                           timeout=timeout_ms)
