"""deploy/prometheus/rules.yml: valid, each alert tested by promtool (rules.test.yml) and explained in
docs/operations.md, and every metric it names one the services export."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import yaml

from tests.infra import ROOT
from tests.metric_names import PROMETHEUS, exported_metrics, metric_names, recorded_metrics

OPERATIONS = ROOT / "docs" / "operations.md"


def load(name: str) -> Any:
    return yaml.safe_load((PROMETHEUS / name).read_text())


def rules() -> list[dict[str, Any]]:
    return [rule for group in load("rules.yml")["groups"] for rule in group["rules"]]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    assert path, "promtool is missing: `make infra` installs it (Debian's prometheus package)"
    return subprocess.run([path, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120, check=False)


def test_the_rules_are_valid_and_each_alert_fires_when_it_should_and_not_before() -> None:
    for args in (("check", "rules", "rules.yml"), ("test", "rules", "rules.test.yml")):
        result = promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_and_has_a_runbook_entry() -> None:
    alerts = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    tested = {case["alertname"] for test in load("rules.test.yml")["tests"] for case in test["alert_rule_test"]}
    assert set(alerts) == tested
    anchors = {anchor(line) for line in OPERATIONS.read_text().splitlines() if line.startswith("#")}
    for name, rule in alerts.items():
        page, _, section = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/operations.md" and section in anchors, f"{name}: {rule['annotations']['runbook']}"


def anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_every_metric_the_rules_name_is_one_the_services_export() -> None:
    known = exported_metrics() | recorded_metrics()
    for rule in rules():
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, f"{rule.get('alert') or rule.get('record')} names {unknown}, which no service exports"


def test_the_metric_names_of_an_expression_are_found() -> None:
    expr = 'sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) / ignoring(x) up > 0 and on() hour() >= 3'
    assert metric_names(expr) == {"http_requests_total", "up"}
