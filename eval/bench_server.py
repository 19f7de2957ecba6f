"""Benchmark of `promptloop serve` on loopback.

1. Time to first audio: a new session on the embedded default (create → generate one segment →
   the segment's audio downloaded), several times.
2. The non-generating endpoints under concurrent load: p50/p99 latency and throughput.
3. The non-generating API at a fixed arrival rate (``--rate``, open loop): requests are sent on a
   schedule whatever the answers do, across ``--users`` users with the default per-user limits, and
   each latency is counted from the request's scheduled time (so a stalled server cannot hide its
   queue).  ``--check`` exits 1 unless p99 < 50 ms and every status is 200 or a documented 429.

    .venv/bin/python eval/bench_server.py [--requests 1000] [--concurrency 16] [--sessions 3]
    .venv/bin/python eval/bench_server.py --rate 200 --duration 20 --users 20 --check   # the load target

Prints Markdown tables.  The server runs as a real process (`promptloop serve`) on a fresh data
folder, so the figures include HTTP, auth, the database and JSON on both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
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
from typing import Any

import httpx


def start_server(data: Path, port: int, *, lift_rate_limit: bool = True) -> tuple[subprocess.Popen[str], str, list[str]]:
    # closed loop, one user sends every request: lift the per-user rate limit so that throughput, not
    # the limiter, is measured (tests/reliability checks the limiter); the fixed-rate run keeps it
    env = {**os.environ, "PROMPTLOOP_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}
    if lift_rate_limit:
        env["PROMPTLOOP_RATE_LIMIT_PER_MINUTE"] = "1000000"
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
    print(f"server ready (backends loaded and warmed) after {ready_s:.1f} s")
    return proc, token.group(1) if token else "", lines


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


#: Documented answers of the non-generating API under load: success, or 429 from the per-user rate limit.
DOCUMENTED = {200, 429}


def make_users(data: Path, count: int) -> list[str]:
    """``count`` users on the (not yet served) data folder; their tokens."""
    from promptloop.service.engine import Service, ServiceConfig

    service = Service(ServiceConfig(data_dir=data))
    try:
        return [service.create_user(f"bench{i}")[1] for i in range(count)]
    finally:
        service.close()


#: The non-generating endpoints of the fixed-rate run, ``{sid}``: a session of the user's own.
FIXED_PATHS = ("/v1/me", "/v1/sessions", "/v1/sessions/{sid}", "/v1/sessions/{sid}/segments",
               "/v1/sessions/{sid}/messages", "/v1/jobs", "/healthz")


async def fixed_rate(base: str, tokens: list[str], rate: float, duration: float, server_pid: int,
                     paths: tuple[str, ...] = FIXED_PATHS, lanes: int = 32) -> dict[str, Any]:
    """Open loop: request ``i`` is due at ``i / rate`` s, cycling through users and endpoints; ``lanes``
    keep-alive connections take due requests in turn.  A request's latency runs from when it was due,
    so time spent waiting for a free lane counts too.  (One connection per httpx client: a single pool
    of many connections spends its time matching requests to connections once a backlog forms.)"""
    clients = [httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=1))
               for _ in range(lanes)]
    try:
        plans: list[tuple[dict[str, str], str]] = []
        for token in tokens:
            headers = {"Authorization": f"Bearer {token}"}
            r = await clients[0].post("/v1/sessions", headers=headers, json={"start": "anxious", "target": "calm"})
            assert r.status_code == 201, r.text
            sid = r.json()["id"]
            for path in paths:
                plans.append((headers, path.format(sid=sid)))
        # interleave users: consecutive requests go to different users, so each user sends rate/users
        plans = [plans[u * len(paths) + k] for k in range(len(paths)) for u in range(len(tokens))]
        total = int(rate * duration)
        latencies: list[float] = []
        statuses: collections.Counter[int] = collections.Counter()
        failures: dict[int, str] = {}
        due_queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
        timeline: list[tuple[float, float, str]] = []  # (due, latency, path): where the slow ones fall
        started = 0.0

        async def lane(client: httpx.AsyncClient) -> None:
            while (item := await due_queue.get()) is not None:
                i, due = item
                headers, path = plans[i % len(plans)]
                try:
                    r = await client.get(path, headers=headers)
                    statuses[r.status_code] += 1
                    if r.status_code not in DOCUMENTED:
                        failures.setdefault(r.status_code, f"{path}: {r.text[:200]}")
                except httpx.HTTPError as exc:
                    statuses[-1] += 1
                    failures.setdefault(-1, f"{path}: {type(exc).__name__}: {exc}")
                latencies.append(time.perf_counter() - due)
                timeline.append((due - started, latencies[-1], path))

        workers = [asyncio.create_task(lane(c)) for c in clients]
        # The client's own pauses count as latency here (a request's clock starts when it is due):
        # its heap (httpx, and promptloop for making the users) is frozen so that a full collection
        # of it (~100 ms) does not run mid-run and get charged to the server.
        gc.collect()
        gc.freeze()
        load_before, cpu_before, client_before = os.getloadavg()[0], cpu_seconds(server_pid), time.process_time()
        started = time.perf_counter()
        for i in range(total):
            due = started + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            due_queue.put_nowait((i, due))
        for _ in workers:
            due_queue.put_nowait(None)
        await asyncio.gather(*workers)
        wall = time.perf_counter() - started
        load_after, cpu_after, client_after = os.getloadavg()[0], cpu_seconds(server_pid), time.process_time()
        gc.unfreeze()
    finally:
        for c in clients:
            await c.aclose()
    latencies.sort()
    pct = lambda q: latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1000  # noqa: E731
    return {"requests": total, "wall_s": wall, "rps": total / wall, "p50": pct(0.50), "p90": pct(0.90),
            "p99": pct(0.99), "max": latencies[-1] * 1000, "statuses": dict(sorted(statuses.items())),
            "failures": failures, "cpu_ms": (cpu_after - cpu_before) * 1000 / total, "load": (load_before, load_after),
            "client_cpu_ms": (client_after - client_before) * 1000 / total,
            "timeline": timeline}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) so far; Linux only (0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_fixed_rate(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        tokens = make_users(data, args.users)
        proc, _, _ = start_server(data, args.port, lift_rate_limit=False)
        try:
            paths = tuple(args.paths.split(",")) if args.paths else FIXED_PATHS
            r = asyncio.run(fixed_rate(f"http://127.0.0.1:{args.port}", tokens, args.rate, args.duration, proc.pid,
                                       paths))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            if proc.stdout:
                proc.stdout.close()
    print(f"\n### Fixed rate: {args.rate:g} requests/s for {args.duration:g} s, {args.users} users, default limits\n")
    print("| requests | achieved req/s | p50 ms | p90 ms | p99 ms | max ms | statuses | server CPU ms/request "
          "| client CPU ms/request | load avg (1 min) before/after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    statuses = ", ".join(f"{k} ×{v}" for k, v in r["statuses"].items())
    print(f"| {r['requests']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | {r['max']:.0f} "
          f"| {statuses} | {r['cpu_ms']:.2f} | {r['client_cpu_ms']:.2f} | {r['load'][0]:.2f} / {r['load'][1]:.2f} |")
    for status, body in r["failures"].items():
        print(f"  HTTP {status}: {body}", file=sys.stderr)
    ok = r["p99"] < 50 and set(r["statuses"]) <= DOCUMENTED
    if args.check:
        print("\ntarget (p99 < 50 ms, only 200/429):", "met" if ok else "NOT met")
        return 0 if ok else 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=3, help="new sessions timed to first audio")
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--rate", type=float, default=0.0, help="fixed arrival rate (requests/s); 0: the closed-loop runs")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the fixed-rate run")
    parser.add_argument("--users", type=int, default=20, help="users of the fixed-rate run")
    parser.add_argument("--paths", default="", help="comma-separated GET paths of the fixed-rate run ({sid}: the "
                        "user's session); default: " + ",".join(FIXED_PATHS))
    parser.add_argument("--check", action="store_true", help="exit 1 unless the fixed-rate run meets the target")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    if args.rate > 0:
        sys.exit(run_fixed_rate(args))
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
