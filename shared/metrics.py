"""Prometheus metrics of one service, in a registry of its own (not the process-global one)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BUCKET_LABELS = [floatToGoString(bound) for bound in (*LATENCY_BUCKETS, float("inf"))]  # type: ignore[no-untyped-call]


class RequestFigures(Collector):
    """The requests answered, per route, method and status, and their latency per route and method, kept as plain
    numbers: a request costs a dict lookup and a few increments on the event loop's thread (prometheus_client's
    labelled children take a lock for each), turned into `http_requests_total` and the histogram
    `http_request_duration_seconds` when scraped."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], int] = {}
        # Per (route, method): a count per bucket of LATENCY_BUCKETS and one over the last, then the sum of seconds.
        self._latencies: dict[tuple[str, str], list[float]] = {}

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        self._counts[key] = self._counts.get(key, 0) + 1
        latency = self._latencies.get((route, method))
        if latency is None:
            latency = self._latencies[(route, method)] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        latency[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the first bucket whose bound is >= seconds ("le")
        latency[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("http_requests", "HTTP requests", labels=["route", "method", "status"])
        for (route, method, status), count in list(self._counts.items()):
            requests.add_metric([route, method, str(status)], count)
        yield requests
        durations = HistogramMetricFamily(
            "http_request_duration_seconds", "HTTP request latency", labels=["route", "method"]
        )
        for (route, method), latency in list(self._latencies.items()):
            cumulative, buckets = 0.0, list[tuple[str, float]]()
            for bound, in_bucket in zip(_BUCKET_LABELS, latency, strict=False):
                cumulative += in_bucket
                buckets.append((bound, cumulative))
            durations.add_metric([route, method], buckets, sum_value=latency[-1])
        yield durations


class KeptAnswers(Protocol):
    """A per-process cache's counts (shared.notified_cache.NotifiedCache)."""

    hits: int
    misses: int

    def __len__(self) -> int: ...


class KeptAnswerFigures(Collector):
    """Lookups of each per-process cache, hit or missed, and the answers it keeps, read from the caches' own
    counts when scraped: a lookup costs one integer increment. The hit rate says whether change notifications are
    heard (nothing is kept while they are not) and whether the cache is large enough."""

    def __init__(self) -> None:
        self._caches: dict[str, KeptAnswers] = {}

    def watch(self, name: str, cache: KeptAnswers) -> None:
        self._caches[name] = cache

    def collect(self) -> Iterator[Metric]:
        lookups = CounterMetricFamily(
            "cache_lookups",
            "Lookups of a per-process cache, by outcome (hit: answered from it)",
            labels=["cache", "outcome"],
        )
        kept = GaugeMetricFamily("cache_answers_kept", "Answers a per-process cache keeps now", labels=["cache"])
        for name, cache in self._caches.items():
            lookups.add_metric([name, "hit"], cache.hits)
            lookups.add_metric([name, "miss"], cache.misses)
            kept.add_metric([name], len(cache))
        yield lookups
        yield kept


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = RequestFigures()
        self.registry.register(self.requests)
        self.caches = KeptAnswerFigures()
        self.registry.register(self.caches)
        self.outbox_backlog = Gauge(
            "outbox_backlog", "Events written but not yet confirmed by the broker", registry=self.registry
        )
        self.outbox_published = Counter(
            "outbox_published_total", "Events published from the outbox", registry=self.registry
        )
        self.outbox_publish_failures = Counter(
            "outbox_publish_failures_total",
            "Relay attempts that failed (the broker away, or events it did not confirm): retried with back-off",
            registry=self.registry,
        )
        self.consumer_handled = Counter(
            "consumer_messages_total", "Messages handled", ["queue", "outcome"], registry=self.registry
        )
        self.consumer_errors = Counter(
            "consumer_errors_total", "Messages whose handler failed", ["queue"], registry=self.registry
        )
        self.jobs = Counter("deferred_jobs_total", "Deferred jobs run", ["kind", "outcome"], registry=self.registry)
        # Read from the database when scraped (shared.app's samplers): what is waiting, not only what happened.
        self.outbox_oldest_pending = Gauge(
            "outbox_oldest_pending_seconds",
            "How long the oldest event not yet confirmed by the broker has waited (0: none waits)",
            registry=self.registry,
        )
        self.jobs_due = Gauge(
            "deferred_jobs_due", "Deferred jobs due and not yet run, per kind", ["kind"], registry=self.registry
        )
        self.jobs_overdue = Gauge(
            "deferred_jobs_overdue",
            "Deferred jobs due for more than shared.jobs.OVERDUE_AFTER and not yet run, per kind",
            ["kind"],
            registry=self.registry,
        )
        self.parked = Gauge(
            "consumer_parked_messages",
            "Messages parked in a consumer queue's dead-letter queue (<queue>.dlq), waiting for an operator",
            ["queue"],
            registry=self.registry,
        )
        self.redelivered = Counter(
            "consumer_redelivered_total",
            "Messages the broker delivered again (a consumer died or lost its channel before acking)",
            ["queue"],
            registry=self.registry,
        )
        self.sample_failures = Counter(
            "metrics_sample_failures_total",
            "Scrapes whose reading of a figure from the database failed (the figure kept its last value)",
            ["sampler"],
            registry=self.registry,
        )
        self.service = service

    def request_answered(self, route: str, method: str, status: int, seconds: float) -> None:
        """A request to `route` answered with `status` after `seconds`: counted and timed."""
        self.requests.answered(route, method, status, seconds)
