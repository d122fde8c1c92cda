"""deploy/ for updates: the Kubernetes manifests hang together (the autoscaler scales the Deployment, the
Service and the budget select its pods, probes and the link secret are where they belong), and nginx accepts
deploy/nginx/updates.conf as shipped (`nginx -t`, only the site's own values replaced)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.gateway import check as check_conf
from tests.infra import ROOT
from tests.nginx import UPDATES_CONF, main_conf, updates_site

K8S = ROOT / "deploy" / "k8s"


def documents() -> dict[str, dict[str, Any]]:
    with (K8S / "updates.yaml").open() as f:
        docs = [doc for doc in yaml.safe_load_all(f) if doc]
    kinds = [doc["kind"] for doc in docs]
    assert len(kinds) == len(set(kinds)), kinds  # one of each
    return {doc["kind"]: doc for doc in docs}


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def test_updates_has_a_deployment_service_autoscaler_budget_volume_and_migration() -> None:
    docs = documents()
    assert set(docs) == {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "PersistentVolumeClaim",
        "Job",
    }
    assert {doc["metadata"]["name"] for kind, doc in docs.items() if kind != "PersistentVolumeClaim"} == {
        "updates",
        "updates-migrate",
    }


def test_the_deployment_runs_updates_and_leaves_the_replica_count_to_the_autoscaler() -> None:
    deployment = documents()["Deployment"]
    assert deployment["apiVersion"] == "apps/v1"
    assert "replicas" not in deployment["spec"]  # an apply would otherwise undo the autoscaler's count
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels(deployment).items()
    main = container(deployment)
    assert main["command"] == ["python", "-m", "services.updates"]
    assert main["ports"] == [{"name": "http", "containerPort": 8104}]
    assert {"name": "ITS_PORT", "value": "8104"} in main["env"]


def test_probes_readiness_on_readyz_liveness_on_healthz() -> None:
    main = container(documents()["Deployment"])
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_the_online_tuf_keys_are_a_secret_mounted_read_only_into_the_service_alone() -> None:
    docs = documents()
    deployment = docs["Deployment"]
    env = {item["name"]: item for item in container(deployment)["env"]}
    mounts = {m["name"]: m for m in container(deployment)["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert mounts["tuf-keys"] == {"name": "tuf-keys", "mountPath": env["ITS_TUF_KEYS_DIR"]["value"], "readOnly": True}
    assert volumes["tuf-keys"]["secret"]["secretName"] == "updates-tuf-keys"
    assert "ITS_TUF_KEYS_DIR" not in {item["name"] for item in container(docs["Job"]).get("env", [])}


def test_every_replica_gets_the_same_link_secret_from_a_secret_never_a_literal() -> None:
    docs = documents()
    for workload in (docs["Deployment"], docs["Job"]):
        env = {item["name"]: item for item in container(workload).get("env", [])}
        secret = env["ITS_DOWNLOAD_LINK_SECRET"]
        assert "value" not in secret
        assert secret["valueFrom"]["secretKeyRef"] == {"name": "its-secrets", "key": "ITS_DOWNLOAD_LINK_SECRET"}


def test_kits_are_on_a_volume_every_replica_shares() -> None:
    docs = documents()
    main = container(docs["Deployment"])
    env = {item["name"]: item.get("value") for item in main["env"]}
    assert env["ITS_KIT_STORAGE"] == "filesystem"
    mounts = {mount["name"]: mount["mountPath"] for mount in main["volumeMounts"]}
    assert mounts["kits"] == env["ITS_KITS_DIR"]
    volumes = {volume["name"]: volume for volume in docs["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    claim = volumes["kits"]["persistentVolumeClaim"]["claimName"]
    assert claim == docs["PersistentVolumeClaim"]["metadata"]["name"]
    assert docs["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_the_pods_are_locked_down_like_the_other_services() -> None:
    spec = documents()["Deployment"]["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["automountServiceAccountToken"] is False
    main = container(documents()["Deployment"])
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    assert main["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # Utilization targets are relative to requests: without them the autoscaler has nothing to go on.
    assert {"cpu", "memory"} <= main["resources"]["requests"].keys()
    assert "memory" in main["resources"]["limits"]


def test_the_autoscaler_scales_the_updates_deployment_alone_on_cpu() -> None:
    docs = documents()
    hpa = docs["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "updates"}
    assert docs["Deployment"]["metadata"]["name"] == "updates"
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    resources = {
        metric["resource"]["name"]: metric["resource"]["target"]
        for metric in hpa["spec"]["metrics"]
        if metric["type"] == "Resource"
    }
    assert resources["cpu"]["type"] == "Utilization" and 0 < resources["cpu"]["averageUtilization"] <= 100
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60


def test_the_service_and_the_disruption_budget_select_the_updates_pods_only() -> None:
    docs = documents()
    labels = pod_labels(docs["Deployment"])
    service_selector = docs["Service"]["spec"]["selector"]
    budget_selector = docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]
    for selector in (service_selector, budget_selector):
        assert selector.items() <= labels.items()
        assert selector["app.kubernetes.io/name"] == "updates"
        assert selector["app.kubernetes.io/component"] == "service"  # not the migration Job's pods
    assert docs["Service"]["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]
    assert docs["PodDisruptionBudget"]["apiVersion"] == "policy/v1"


def test_the_migration_job_migrates_updates() -> None:
    job = documents()["Job"]
    assert container(job)["command"] == ["python", "-m", "services.updates", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_the_kustomization_includes_updates_and_every_file_it_names_exists() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert "updates.yaml" in kustomization["resources"]
    assert all((K8S / name).is_file() for name in kustomization["resources"])


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_with_updates() -> None:
    built = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False)
    assert built.returncode == 0, built.stderr
    docs = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    updates = {(doc["kind"], doc["metadata"]["name"]) for doc in docs if "updates" in doc["metadata"]["name"]}
    assert ("HorizontalPodAutoscaler", "updates") in updates and ("Deployment", "updates") in updates
    assert all(doc["metadata"].get("namespace") == "its-portal" for doc in docs if doc["kind"] != "Namespace")


# ---- nginx ----------------------------------------------------------------------------------------------


def test_the_nginx_config_verifies_links_at_updates_and_sends_files_by_sha256() -> None:
    conf = UPDATES_CONF.read_text()
    assert "auth_request /_verify_link;" in conf
    verify = conf.split("location = /_verify_link {", 1)[1].split("}", 1)[0]
    assert "internal;" in verify
    assert "proxy_pass http://its_updates/dl-verify;" in verify
    assert "proxy_pass_request_body off;" in verify
    assert "proxy_set_header X-Original-URI $request_uri;" in verify
    # The file comes from the sha256 alone: 64 lowercase hex digits, split as the storage lays them out.
    assert "(?<dl_sha256>(?<dl_ab>[0-9a-f]{2})(?<dl_cd>[0-9a-f]{2})[0-9a-f]{60})" in conf
    assert "alias /var/lib/its/kits/$dl_ab/$dl_cd/$dl_sha256;" in conf
    assert "disable_symlinks on;" in conf
    # sendfile at the server level: the auth_request subrequest's location decides it for the connection.
    server_level = conf.split("\nserver {", 1)[1].split("\n    location", 1)[0]
    directives = {line.strip() for line in server_level.splitlines()}
    assert {"sendfile on;", "tcp_nopush on;"} <= directives
    assert "etag off;" in conf and 'add_header ETag "\\"$dl_sha256\\"";' in conf


def test_nginx_accepts_the_shipped_config(tmp_path: Path) -> None:
    kits = tmp_path / "kits"
    kits.mkdir()
    site = updates_site(port=18080, upstream="127.0.0.1:18104", kits_dir=kits, log_dir=tmp_path)
    conf = tmp_path / "nginx.conf"
    conf.write_text(main_conf(tmp_path, site))
    checked = check_conf(conf)
    assert checked.returncode == 0, checked.stderr


def test_nginx_t_can_fail(tmp_path: Path) -> None:
    """The check above means something: a broken copy of the config is refused."""
    kits = tmp_path / "kits"
    kits.mkdir()
    site = updates_site(port=18080, upstream="127.0.0.1:18104", kits_dir=kits, log_dir=tmp_path)
    conf = tmp_path / "nginx.conf"
    conf.write_text(main_conf(tmp_path, site.replace("auth_request /_verify_link;", "auth_request;")))
    assert check_conf(conf).returncode != 0
