"""Benchmark of `promptloop serve` on loopback.

1. Time to first audio: a new session on the embedded default (create → generate one segment →
   the segment's audio downloaded), several times.
2. The non-generating endpoints under concurrent load: p50/p99 latency and throughput.

    .venv/bin/python eval/bench_server.py [--requests 1000] [--concurrency 16] [--sessions 3]

Prints Markdown tables.  The server runs as a real process (`promptloop serve`) on a fresh data
folder, so the figures include HTTP, auth, the database and JSON on both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx


def start_server(data: Path, port: int) -> tuple[subprocess.Popen[str], str, list[str]]:
    # one user sends every request here: lift the per-user rate limit so that throughput, not the
    # limiter, is measured (tests/reliability checks the limiter)
    env = {**os.environ, "PROMPTLOOP_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1",
           "PROMPTLOOP_RATE_LIMIT_PER_MINUTE": "1000000"}
    proc = subprocess.Popen([sys.executable, "-m", "promptloop.cli.main", "serve", "--host", "127.0.0.1", "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    while time.perf_counter() - started < 300:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    ready_s = time.perf_counter() - started
    token = re.search(r"token=(pl_[\w-]+)", "".join(lines))
    assert token, "".join(lines)
    print(f"server ready (backends loaded and warmed) after {ready_s:.1f} s")
    return proc, token.group(1), lines


def first_audio(base: str, headers: dict[str, str], seconds: float) -> tuple[float, float]:
    """Seconds from POST /v1/sessions to the first segment's audio in hand; and the audio length."""
    with httpx.Client(base_url=base, headers=headers, timeout=300) as c:
        t0 = time.perf_counter()
        s = c.post("/v1/sessions", json={"start": "anxious", "target": "calm", "segments": 6,
                                         "segment_seconds": seconds}).json()
        job = c.post(f"/v1/sessions/{s['id']}/generate", json={"segments": 1}).json()
        while job["status"] in ("queued", "running"):
            time.sleep(0.02)
            job = c.get(f"/v1/jobs/{job['id']}").json()
        assert job["status"] == "succeeded", job
        audio = c.get(f"/v1/sessions/{s['id']}/segments/0/audio")
        elapsed = time.perf_counter() - t0
        assert audio.status_code == 200
        return elapsed, (len(audio.content) - 44) / 2 / s["sample_rate"]


async def load(base: str, headers: dict[str, str], path: str, requests: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    failures: dict[int, str] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t = time.perf_counter()
                r = await client.get(path)
                latencies.append(time.perf_counter() - t)
                if r.status_code >= 400:
                    errors += 1
                    failures.setdefault(r.status_code, r.text[:200])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    latencies.sort()
    for status, body in failures.items():
        print(f"  {path}: HTTP {status}: {body}", file=sys.stderr)
    return {"p50": latencies[len(latencies) // 2] * 1000, "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "rps": requests / wall, "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=3, help="new sessions timed to first audio")
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        proc, token, _ = start_server(Path(tmp) / "data", args.port)
        base, headers = f"http://127.0.0.1:{args.port}", {"Authorization": f"Bearer {token}"}
        try:
            print(f"\n### Time to first audio (new session, embedded default, {args.segment_seconds:g} s segment)\n")
            print("| run | seconds to first audio | audio seconds |\n|---|---|---|")
            times = []
            for run in range(args.sessions):
                elapsed, audio_s = first_audio(base, headers, args.segment_seconds)
                times.append(elapsed)
                print(f"| {run + 1} | {elapsed:.2f} | {audio_s:.1f} |")
            print(f"\nmedian {statistics.median(times):.2f} s")

            with httpx.Client(base_url=base, headers=headers) as c:
                sid = c.get("/v1/sessions").json()[0]["id"]
                jid = c.get("/v1/jobs").json()[0]["id"]
            paths = ["/healthz", "/v1/me", "/v1/sessions", f"/v1/sessions/{sid}", f"/v1/sessions/{sid}/segments",
                     f"/v1/jobs/{jid}"]
            print(f"\n### Non-generating endpoints: {args.requests} requests each, {args.concurrency} concurrent\n")
            print("| endpoint | p50 ms | p99 ms | requests/s | errors |\n|---|---|---|---|---|")
            for path in paths:
                r = asyncio.run(load(base, headers, path, args.requests, args.concurrency))
                shown = path.replace(sid, "{id}").replace(jid, "{id}")
                print(f"| GET {shown} | {r['p50']:.1f} | {r['p99']:.1f} | {r['rps']:.0f} | {r['errors']:.0f} |")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            if proc.stdout:
                proc.stdout.close()


if __name__ == "__main__":
    main()
