"""The image (deploy/Dockerfile) holds every package the project installs: a package left out of its COPY lines
installs nothing and the services fail at their first import in production, never here (the rules package was)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_copies_every_installed_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+) \./\1$", dockerfile, flags=re.MULTILINE))
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
    imported = re.search(r'python -c "import ([^"]+)"', dockerfile)
    assert imported is not None
    assert packages <= {name.strip() for name in imported.group(1).split(",")}
