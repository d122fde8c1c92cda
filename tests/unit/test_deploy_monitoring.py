"""deploy/k8s/monitoring: for a cluster run by the Prometheus Operator, the rules are rules.yml's (generated, kept
fresh) and the ServiceMonitor finds every service's /metrics under the job name the rules expect."""

from __future__ import annotations

from devtools.prometheus import k8s_rule
from tests.k8s import K8S, built

MONITORING = K8S / "monitoring"


def test_the_prometheus_rule_is_rules_yml_as_generated() -> None:
    assert (MONITORING / "prometheusrule.yaml").read_text() == k8s_rule(), (
        "deploy/prometheus/rules.yml changed: python -m devtools.prometheus k8s-rule > "
        "deploy/k8s/monitoring/prometheusrule.yaml"
    )


def test_the_service_monitor_finds_every_service_under_its_name() -> None:
    [monitor] = [d for d in built(MONITORING) if d["kind"] == "ServiceMonitor"]
    wanted = monitor["spec"]["selector"]["matchLabels"]
    job_label = monitor["spec"]["jobLabel"]
    [endpoint] = monitor["spec"]["endpoints"]
    services = [d for d in built() if d["kind"] == "Service"]
    names = {service["metadata"]["name"] for service in services}
    assert {"identity", "registration", "contracts", "updates", "notifications", "support", "portal"} <= names
    for service in services:
        labels = service["metadata"]["labels"]
        assert wanted.items() <= labels.items(), service["metadata"]["name"]
        assert labels[job_label] == service["metadata"]["name"]
        assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
