"""deploy/k8s for every service: valid against the Kubernetes schemas (offline, kubernetes-validate), and made to
keep serving through a node's loss, a drain and a rollout: spread over nodes, a disruption budget, probes on
/readyz and /healthz, resources requested, the schema migrated by a Job before the new pods."""

from __future__ import annotations

import functools
import json
from typing import Any

import kubernetes_validate
import pytest

from tests.k8s import built

KUBERNETES = "1.33.0"  # the oldest version the manifests are meant for
SERVICES = ("identity", "registration", "contracts", "updates", "notifications", "support", "portal")


@functools.cache
def _built() -> str:
    return json.dumps(built())


def documents() -> list[dict[str, Any]]:
    """The built manifests, a fresh copy each time (kustomize runs once)."""
    found: list[dict[str, Any]] = json.loads(_built())
    return found


def test_every_document_is_valid_for_kubernetes_strictly() -> None:
    for document in documents():
        name = f"{document['kind']}/{document['metadata']['name']}"
        try:
            kubernetes_validate.validate(document, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            raise AssertionError(f"{name}: {error.message} at {list(error.path)}") from None


def test_a_misspelt_field_is_refused_by_that_validation() -> None:
    [deployment] = [d for d in documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == "identity"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def of(kind: str, name: str) -> dict[str, Any]:
    [found] = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_survives_a_node_lost_a_drain_and_a_rollout(service: str) -> None:
    deployment = of("Deployment", service)
    pods = deployment["spec"]["template"]
    labels = pods["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # Spread over nodes: a node's loss leaves replicas elsewhere.
    spread = {c["topologyKey"]: c for c in pods["spec"]["topologySpreadConstraints"]}
    assert "kubernetes.io/hostname" in spread
    for constraint in spread.values():
        assert constraint["labelSelector"]["matchLabels"].items() <= labels.items()
    # A drain leaves one serving; a rollout adds before it removes.
    budget = of("PodDisruptionBudget", service)["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget.get("minAvailable", 0) >= 1 or budget.get("maxUnavailable") == 1
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    [container] = pods["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert requests["cpu"] and requests["memory"] and limits["memory"]
    # The schema is migrated by a Job of the same image before the new pods start.
    job = of("Job", f"{service}-migrate")
    [migrate] = job["spec"]["template"]["spec"]["containers"]
    assert migrate["command"] == ["python", "-m", f"services.{service}", "migrate"]
    assert migrate["image"] == container["image"]
