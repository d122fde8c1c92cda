"""The metric names PromQL expressions read (the alert rules, the dashboards), and the names the services export:
the tests keep the first within the second; and a scrape of a running app's /metrics, read as numbers."""

from __future__ import annotations

import functools
import re
import urllib.parse
import urllib.request

import aiohttp
import yaml
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from devtools import prometheus
from shared.keys import METRICS
from tests.infra import ROOT
from tests.service_apps import SERVICES, service_app

PROMETHEUS = ROOT / "deploy" / "prometheus"
PROMQL_OPERATORS = {"and", "or", "unless", "bool", "offset"}
PROMETHEUS_OWN = {"up"}  # written by Prometheus for each scrape


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions, aggregations, operators,
    label names or label values."""
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        called = expr[match.end() :].lstrip().startswith("(")
        if not called and match.group() not in PROMQL_OPERATORS:
            names.add(match.group())
    return names


def sample_names(family: Metric) -> set[str]:
    if family.type == "counter":
        return {f"{family.name}_total"}
    if family.type == "histogram":
        return {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
    return {family.name}


@functools.cache
def exported_metrics() -> frozenset[str]:
    """Every sample name the services' metrics registries export, RabbitMQ's (read from the test broker's
    endpoint, as the local Prometheus scrapes it), and Prometheus' own `up`."""
    families = [family for service in SERVICES for family in service_app(service)[METRICS].registry.collect()]
    return frozenset({name for family in families for name in sample_names(family)} | broker_metrics() | PROMETHEUS_OWN)


def broker_metrics() -> set[str]:
    """The names RabbitMQ's rabbitmq_prometheus plugin writes, on both paths devtools/prometheus.py scrapes."""
    names: set[str] = set()
    query = urllib.parse.urlencode([("family", family) for family in prometheus.BROKER_QUEUE_FAMILIES])
    for path in ("/metrics", f"/metrics/detailed?{query}"):
        url = f"http://127.0.0.1:{prometheus.BROKER_PORT}{path}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
        except OSError as error:
            raise AssertionError(f"RabbitMQ's Prometheus endpoint {url}: {error} (`make infra` enables it)") from None
        families = text_string_to_metric_families(text)
        names |= {name for family in families for name in sample_names(family)}
    return names


def recorded_metrics() -> frozenset[str]:
    """The names deploy/prometheus/rules.yml's recording rules write."""
    groups = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())["groups"]
    return frozenset(rule["record"] for group in groups for rule in group["rules"] if "record" in rule)


async def scrape(http: aiohttp.ClientSession) -> dict[str, float]:
    """Every sample of the app's /metrics (`http` bound to its base URL) by its name and labels, as the text format
    writes them (`name{label="value"}`)."""
    response = await http.get("/metrics")
    assert response.status == 200
    samples = [line.rsplit(" ", 1) for line in (await response.text()).splitlines() if not line.startswith("#")]
    return {name: float(value) for name, value in samples}
