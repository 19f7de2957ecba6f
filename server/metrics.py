"""Prometheus metrics: request latency by route, and the service's queue, jobs and segments read
at scrape time.  Each app has its own registry (several apps can live in one test process)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from promptloop.service.engine import Service


class _ServiceCollector(Collector):
    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        s, pool = self.service, self.service.pool
        yield GaugeMetricFamily("promptloop_ready", "1 when backends are loaded", value=float(s.ready))
        yield GaugeMetricFamily("promptloop_queue_waiting", "jobs waiting for a worker", value=pool.queued)
        yield GaugeMetricFamily("promptloop_queue_running", "jobs running", value=pool.running)
        yield GaugeMetricFamily("promptloop_queue_size", "most jobs that may wait", value=pool.queue_size)
        yield CounterMetricFamily("promptloop_segments_generated", "segments generated", value=s.stats["segments"])
        yield CounterMetricFamily("promptloop_generate_seconds", "seconds spent generating segments",
                                  value=s.stats["generate_seconds"])
        jobs = CounterMetricFamily("promptloop_jobs", "jobs by status reached", labels=["status"])
        for status, count in sorted(s.job_counts.items()):
            jobs.add_metric([status], count)
        yield jobs


class Metrics:
    def __init__(self, service: Service) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram("promptloop_http_request_seconds", "HTTP request latency",
                                 ["method", "route", "status"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.registry.register(_ServiceCollector(service))

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Pure ASGI middleware timing each HTTP request (Starlette's ``BaseHTTPMiddleware`` would
        add a task and a streamed copy of every response: a fifth of a request's CPU time here)."""
        latency = self.latency

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = 500

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                # the route template, never the raw path: ids would explode the label set
                name = getattr(scope.get("route"), "path", "unmatched")
                latency.labels(scope["method"], name, str(status)).observe(time.perf_counter() - started)

        return timed
