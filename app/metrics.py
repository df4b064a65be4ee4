"""Prometheus metrics: requests per route template, latency, embedding batch sizes, index sizes.

Each app has its own ``CollectorRegistry`` (no process globals), so tests can build many apps.
Routes are labelled with their template (``/collections/{name}/query``), never the raw path, so a
client cannot blow up the number of series.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.jobs import STATES as JOB_STATES

if TYPE_CHECKING:
    from app.registry import CollectionRegistry
    from app.search_lanes import SearchLanes
    from indexer.embedding import Embedder
    from indexer.jobs import JobManager

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_TEMPLATE_PARAM = re.compile(r"{(\w+):\w+}")  # {doc_id:path} -> {doc_id}
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("semsearch_http_requests", "HTTP requests by route template and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("semsearch_http_request_duration_seconds", "HTTP request latency by route template",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.embed_batch = Histogram("semsearch_embed_batch_size", "Texts per embedding call",
                                     ["kind"], buckets=BATCH_BUCKETS, registry=self.registry)
        self.embed_seconds = Histogram("semsearch_embed_duration_seconds", "Seconds per embedding call",
                                       ["kind"], buckets=LATENCY_BUCKETS, registry=self.registry)

    def watch(self, collections: Callable[[], CollectionRegistry | None], jobs: Callable[[], JobManager | None],
              lanes: Callable[[], SearchLanes | None] = lambda: None,
              query_bound: Callable[[], Mapping[str, float]] | None = None) -> None:
        """Report index sizes, job counts, search-lane batching and the in-flight bound, read at scrape
        time (from whatever the app holds then)."""
        self.registry.register(_StateCollector(collections, jobs, lanes, query_bound))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    def __init__(self, collections: Callable[[], CollectionRegistry | None],
                 jobs: Callable[[], JobManager | None], lanes: Callable[[], SearchLanes | None],
                 query_bound: Callable[[], Mapping[str, float]] | None = None) -> None:
        self.collections = collections
        self.jobs = jobs
        self.lanes = lanes
        self.query_bound = query_bound

    def describe(self) -> list[Metric]:
        return []  # nothing to check for duplicates at registration; collect() runs at scrape time

    def collect(self) -> Iterator[Metric]:
        chunks = GaugeMetricFamily("semsearch_collection_chunks", "Chunks (vectors) per collection",
                                   labels=["collection"])
        sources = GaugeMetricFamily("semsearch_collection_sources", "Files and documents per collection",
                                    labels=["collection", "kind"])
        size = GaugeMetricFamily("semsearch_collection_size_bytes", "Collection size on disk", labels=["collection"])
        registry, manager = self.collections(), self.jobs()
        try:
            for info in registry.infos() if registry is not None else []:
                chunks.add_metric([info.name], info.chunks)
                sources.add_metric([info.name, "file"], info.files)
                sources.add_metric([info.name, "doc"], info.documents)
                size.add_metric([info.name], info.size_bytes)
        except Exception:  # a scrape must never fail because one collection is odd
            log.exception("collecting collection metrics")
        jobs = GaugeMetricFamily("semsearch_jobs", "Background jobs in the data folder, by state", labels=["state"])
        counts: dict[str, int] = dict.fromkeys(JOB_STATES, 0)
        for job in manager.list_jobs() if manager is not None else []:
            counts[job.state] = counts.get(job.state, 0) + 1
        for state, n in counts.items():
            jobs.add_metric([state], n)
        yield from (chunks, sources, size, jobs)
        lanes = self.lanes()
        if lanes is not None:  # how well concurrent query requests share search calls (see app.search_lanes)
            yield from _counters(lanes.stats.to_dict(), (
                ("semsearch_search_lane_requests", "requests", "Query requests answered by the search lanes"),
                ("semsearch_search_lane_batches", "batches", "Batches of query requests the search lanes took"),
                ("semsearch_search_lane_busy_batches", "busy_batches",
                 "Batches run beside other work (their embedding stays on one core)"),
            ))
        if self.query_bound is not None:  # (semsearch serve answers most 503s before the request counters)
            bound = self.query_bound()  # {"refused": n, "inflight": n}: app.backpressure.QueryBound.stats
            yield from _counters(bound, (
                ("semsearch_queries_refused", "refused",
                 "Queries answered 503 past SEMSEARCH_MAX_INFLIGHT_QUERIES"),))
            inflight = GaugeMetricFamily("semsearch_queries_in_flight", "Query requests in flight in this worker")
            inflight.add_metric([], bound["inflight"])
            yield inflight


def _counters(stats: Mapping[str, float], spec: Iterable[tuple[str, str, str]]) -> Iterator[CounterMetricFamily]:
    """One unlabelled counter per ``(metric name, stats key, help text)``."""
    for name, key, doc in spec:
        c = CounterMetricFamily(name, doc)
        c.add_metric([], float(stats[key]))
        yield c


class MeteredEmbedder:
    """An Embedder that records batch sizes and times; everything else passes through to ``inner``."""

    def __init__(self, inner: Embedder, metrics: Metrics) -> None:
        self.inner = inner
        self._metrics = metrics

    def _timed(self, kind: str, n: int, fn: Callable[[], np.ndarray]) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            self._metrics.embed_batch.labels(kind).observe(n)
            self._metrics.embed_seconds.labels(kind).observe(time.perf_counter() - t0)

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        return self._timed("document", len(texts), lambda: self.inner.embed(texts, batch_size=batch_size))

    def embed_queries(self, texts: Sequence[str], *, exact: bool = False) -> np.ndarray:
        return self._timed("query", len(texts), lambda: self.inner.embed_queries(texts, exact=exact))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class MetricsMiddleware:
    """Counts requests and times them, labelled by the matched route's template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        t0 = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = _TEMPLATE_PARAM.sub(r"{\1}", getattr(route, "path", None) or "unmatched")
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - t0)
