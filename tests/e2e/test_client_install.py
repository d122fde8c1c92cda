"""its-client installs on a customer's machine as it is shipped: `pip install ./clients/python` into a fresh venv (its
dependencies from the package index, nothing of this repository), then the command runs. About 30 s; part of
`make test`, with a timeout of its own well under its 2 minutes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra import ROOT


@pytest.mark.timeout(120)
def test_the_package_installs_into_a_fresh_venv_and_its_command_runs(tmp_path: Path) -> None:
    # From a copy: pip builds in the source tree (build/, *.egg-info), which is not for a test to leave behind.
    source = tmp_path / "its-client"
    shutil.copytree(ROOT / "clients" / "python", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=60)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(source)],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
        cwd=tmp_path,  # not the repository: nothing of it on the path
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    helped = subprocess.run(
        [str(venv / "bin" / "its-client"), "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert helped.returncode == 0, helped.stderr
    for command in ("login", "logout", "status", "plan", "update", "ask"):
        assert f"  {command} " in helped.stdout, helped.stdout
    alone = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import its_client, sys; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('services', 'shared', 'itsctl', 'rules', 'devtools')))",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
    )
    assert alone.returncode == 0 and alone.stdout.strip() == "[]", alone.stdout + alone.stderr
