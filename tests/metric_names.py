"""The metric names PromQL expressions read (the alert rules, the dashboards), and the names the services export:
the tests keep the first within the second."""

from __future__ import annotations

import functools
import re

import yaml
from prometheus_client.core import Metric

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
    """Every sample name the services' metrics registries export, and Prometheus' own `up`."""
    families = [family for service in SERVICES for family in service_app(service)[METRICS].registry.collect()]
    return frozenset({name for family in families for name in sample_names(family)} | PROMETHEUS_OWN)


def recorded_metrics() -> frozenset[str]:
    """The names deploy/prometheus/rules.yml's recording rules write."""
    groups = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())["groups"]
    return frozenset(rule["record"] for group in groups for rule in group["rules"] if "record" in rule)
