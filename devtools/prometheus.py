"""Prometheus for the local stack: every service scraped, deploy/prometheus/rules.yml loaded, data under var/.

`python -m devtools.prometheus k8s-rule` prints deploy/prometheus/rules.yml as the Prometheus Operator's
PrometheusRule (deploy/k8s/monitoring/prometheusrule.yaml is that output; a test keeps it so).

`python -m devtools.prometheus run` is what `make run` starts where Prometheus is installed (Debian's `prometheus`
package, which `make infra` installs): it writes var/prometheus/prometheus.yml (a job per service, named after it,
as the rules expect, and RabbitMQ's own endpoint given with `--broker`) and runs Prometheus in its foreground until
SIGTERM (devtools/foreground.py). `ITS_PROMETHEUS_PORT` (9090).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from devtools import foreground

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
PORT = 9090
SCRAPE_SECONDS = 15
RETENTION = "7d"
BROKER_PORT = 15692  # the rabbitmq_prometheus plugin's, which `make infra` enables on the local broker
# Per queue (rabbitmq_detailed_queue_messages_ready, _unacked, _consumers...): the consumer lag the rules watch.
BROKER_QUEUE_FAMILIES = ("queue_coarse_metrics", "queue_consumer_count")


def binary() -> str | None:
    return shutil.which("prometheus")


def available() -> bool:
    return binary() is not None


def config(
    targets: Mapping[str, str | Sequence[str]],
    alertmanagers: Sequence[str] = (),
    rules: Path = RULES,
    broker: str | None = None,
) -> str:
    """prometheus.yml: a scrape job per service (`targets`: name -> host:port, or its replicas' host:port), the
    project's rules, the Alertmanagers (host:port) its alerts go to, and RabbitMQ's own endpoint (`broker`:
    host:port of the rabbitmq_prometheus plugin) as two jobs: the node's totals, and each queue's depth and
    consumers."""
    jobs: list[dict[str, Any]] = [
        {
            "job_name": name,
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [target] if isinstance(target, str) else list(target)}],
        }
        for name, target in sorted(targets.items())
    ]
    if broker:
        jobs.append({"job_name": "rabbitmq", "metrics_path": "/metrics", "static_configs": [{"targets": [broker]}]})
        jobs.append(
            {
                "job_name": "rabbitmq-queues",
                "metrics_path": "/metrics/detailed",
                "params": {"family": list(BROKER_QUEUE_FAMILIES)},
                "static_configs": [{"targets": [broker]}],
            }
        )
    document: dict[str, Any] = {
        "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": f"{SCRAPE_SECONDS}s"},
        "rule_files": [str(rules.resolve())],
        "scrape_configs": jobs,
    }
    if alertmanagers:
        document["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
    # JSON is YAML too; the standard library's (devtools.stack's `down` runs before the venv exists).
    return "# Written by devtools/prometheus.py for the local stack; rewritten at each start.\n" + json.dumps(
        document, indent=2
    )


def argv(directory: Path, port: int, host: str = "127.0.0.1") -> list[str]:
    prometheus = binary()
    if prometheus is None:
        raise FileNotFoundError("prometheus is not installed (make infra installs Debian's package)")
    return [
        prometheus,
        f"--config.file={directory / 'prometheus.yml'}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--storage.tsdb.retention.time={RETENTION}",
        f"--web.listen-address={host}:{port}",
        "--web.enable-lifecycle",  # POST /-/reload after the rules change
    ]


def prepare(
    directory: Path,
    targets: Mapping[str, str | Sequence[str]],
    alertmanagers: Sequence[str] = (),
    broker: str | None = None,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "prometheus.yml"
    path.write_text(config(targets, alertmanagers, broker=broker))
    return path


def k8s_rule(rules: Path = RULES) -> str:
    """rules.yml as a PrometheusRule (monitoring.coreos.com/v1) for a cluster run by the Prometheus Operator."""
    import yaml  # PyYAML, from the venv: not needed by the stack's other commands

    document = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "its-portal", "labels": {"app.kubernetes.io/name": "its-portal"}},
        "spec": {"groups": yaml.safe_load(rules.read_text())["groups"]},
    }
    header = (
        "# Generated from deploy/prometheus/rules.yml by `python -m devtools.prometheus k8s-rule`: edit that file.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.prometheus")
    parser.add_argument("command", choices=["run", "k8s-rule"])
    parser.add_argument("--target", action="append", default=[], metavar="NAME=HOST:PORT", help="a service to scrape")
    parser.add_argument("--alertmanager", action="append", default=[], metavar="HOST:PORT", help="where alerts go")
    parser.add_argument("--broker", metavar="HOST:PORT", help="RabbitMQ's Prometheus endpoint (rabbitmq_prometheus)")
    args = parser.parse_args()
    if args.command == "k8s-rule":
        print(k8s_rule(), end="")
        return
    targets: dict[str, list[str]] = {}
    for target in args.target:  # a service's replicas: one job, a target each
        name, address = target.split("=", 1)
        targets.setdefault(name, []).append(address)
    var = Path(os.environ.get("ITS_VAR_DIR") or ROOT / "var")
    directory = var / "prometheus"
    prepare(directory, targets, args.alertmanager, args.broker)
    port = int(os.environ.get("ITS_PROMETHEUS_PORT") or PORT)
    command = argv(directory, port)
    scraped = [*targets, *(["rabbitmq"] if args.broker else [])]
    print(f"prometheus: http://127.0.0.1:{port}/ scraping {', '.join(scraped)}", flush=True)
    raise SystemExit(foreground.run(command))


if __name__ == "__main__":
    main()
