"""The portal's deployment files: the Kubernetes manifests (built with kustomize) and the compose entry."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.infra import ROOT

K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "deploy" / "compose.yaml"


def portal_documents() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / "portal.yaml").read_text()) if doc]


def test_the_portal_runs_behind_the_gateway_with_secure_cookies_and_every_service_url() -> None:
    [deployment] = [d for d in portal_documents() if d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "services.portal"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["ITS_PORTAL_SECURE_COOKIES"] == "true" and env["ITS_TRUSTED_PROXIES"]  # the gateway's addresses
    for service in ("identity", "registration", "contracts", "updates", "notifications", "support"):
        assert env[f"ITS_{service.upper()}_URL"] == f"http://{service}.its-portal.svc.cluster.local"
    assert container["ports"] == [{"name": "http", "containerPort": 8080}]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    kinds = {d["kind"] for d in portal_documents()}
    assert kinds == {"Deployment", "Service", "PodDisruptionBudget", "Job"}
    [job] = [d for d in portal_documents() if d["kind"] == "Job"]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["python", "-m", "services.portal", "migrate"]


def test_the_links_start_with_one_public_address_in_deployments() -> None:
    config = yaml.safe_load((K8S / "config.yaml").read_text())
    assert config["data"]["ITS_PUBLIC_URL"].startswith("https://")
    assert "ITS_PORTAL_URL" not in config["data"]
    compose = yaml.safe_load(COMPOSE.read_text())
    portal = compose["services"]["portal"]
    assert portal["environment"]["ITS_SERVICE"] == "portal"
    assert portal["depends_on"]["portal-migrate"] == {"condition": "service_completed_successfully"}
    assert compose["services"]["portal-migrate"]["command"] == ["migrate"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_with_the_portal() -> None:
    built = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False)
    assert built.returncode == 0, built.stderr
    docs = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    assert ("Deployment", "portal") in {(d["kind"], d["metadata"]["name"]) for d in docs}
