"""Prometheus metrics: request latency by route, and the service's queue, jobs and segments read
at scrape time.  Each app has its own registry (several apps can live in one test process)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

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

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            # the route template, never the raw path: ids would explode the label set
            name = getattr(route, "path", "unmatched")
            self.latency.labels(request.method, name, str(status)).observe(time.perf_counter() - started)
