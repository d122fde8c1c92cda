"""Prometheus metrics of one service, in a registry of its own (not the process-global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ["route", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["route", "method"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.outbox_backlog = Gauge(
            "outbox_backlog", "Events written but not yet confirmed by the broker", registry=self.registry
        )
        self.outbox_published = Counter(
            "outbox_published_total", "Events published from the outbox", registry=self.registry
        )
        self.consumer_handled = Counter(
            "consumer_messages_total", "Messages handled", ["queue", "outcome"], registry=self.registry
        )
        self.consumer_errors = Counter(
            "consumer_errors_total", "Messages whose handler failed", ["queue"], registry=self.registry
        )
        self.jobs = Counter("deferred_jobs_total", "Deferred jobs run", ["kind", "outcome"], registry=self.registry)
        self.service = service
        # The labelled children by their labels: `labels()` takes a lock and builds its key on every call.
        self._answered: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def request_answered(self, route: str, method: str, status: int, seconds: float) -> None:
        """A request to `route` answered with `status` after `seconds`: counted and timed."""
        children = self._answered.get((route, method, status))
        if children is None:
            children = (self.requests.labels(route, method, str(status)), self.latency.labels(route, method))
            self._answered[(route, method, status)] = children
        children[0].inc()
        children[1].observe(seconds)
