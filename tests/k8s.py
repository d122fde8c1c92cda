"""deploy/k8s as a cluster would receive it: the documents `kubectl kustomize` builds."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.infra import ROOT

K8S = ROOT / "deploy" / "k8s"


def built(directory: Path = K8S) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]
