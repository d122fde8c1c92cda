"""Each service, running as a process, serves `/asyncapi.json`, and the official AsyncAPI validator (@asyncapi/cli,
installed into var/node by scripts/ensure-infra.sh) accepts it with no error and no warning: a document the generator
(shared/asyncapi.py) builds from drifted code fails here. What it must contain is tests/unit/test_asyncapi.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from shared.asyncapi import build_asyncapi
from shared.keys import OUTBOX
from tests.infra import ROOT, ServiceProcess
from tests.service_apps import service_app

CLI = ROOT / "var" / "node" / "node_modules" / ".bin" / "asyncapi"
# The validator runs Node and a dozen-MB parser: two at a time on a two-core machine.
AT_ONCE = 2


def _cli_env(home: Path) -> dict[str, str]:
    """The CLI reports each run to its authors (and writes ~/.asyncapi-analytics) unless its analytics file says no:
    this one is the test's own, in `home`."""
    analytics = home / "asyncapi-analytics.json"
    analytics.write_text(json.dumps({"analyticsEnabled": "false", "infoMessageShown": "true", "userID": "its-portal"}))
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "ASYNCAPI_METRICS_CONFIG_PATH": str(analytics)}


async def _validate(document: Path, env: dict[str, str], gate: asyncio.Semaphore) -> tuple[int, str]:
    async with gate:
        process = await asyncio.create_subprocess_exec(
            str(CLI),
            "validate",
            str(document),
            "--fail-severity",
            "warn",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_every_service_serves_an_asyncapi_document_the_official_validator_accepts(
    contract_services: dict[str, ServiceProcess], tmp_path: Path
) -> None:
    assert CLI.exists(), "no @asyncapi/cli in var/node: `make infra` installs it"
    env = _cli_env(tmp_path)
    files = {}
    async with aiohttp.ClientSession() as http:
        for service, process in contract_services.items():
            async with http.get(process.url + "/asyncapi.json") as response:
                assert response.status == 200, await response.text()
                document = await response.json()
            assert document["asyncapi"] == "3.0.0"
            assert document["operations"], f"{service} neither sends nor receives events"
            files[service] = tmp_path / f"{service}.json"
            files[service].write_text(json.dumps(document))
    gate = asyncio.Semaphore(AT_ONCE)
    verdicts = await asyncio.gather(*(_validate(path, env, gate) for path in files.values()))
    failed = {service: output for service, (code, output) in zip(files, verdicts, strict=True) if code != 0}
    assert not failed, "\n".join(f"{service}:\n{output}" for service, output in failed.items())
    for _, output in verdicts:
        assert "is valid" in output, output


@pytest.mark.parametrize("broken", ["publish", None])
async def test_the_validator_refuses_a_broken_document(broken: str | None, tmp_path: Path) -> None:
    """The check above can fail: an operation whose action is not send/receive, or with no action, is an error."""
    app = service_app("updates")
    document = build_asyncapi("updates", producer=app[OUTBOX].producer, subscriptions=[])
    operation = next(iter(document["operations"].values()))
    if broken is None:
        del operation["action"]
    else:
        operation["action"] = broken
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(document))
    code, output = await _validate(path, _cli_env(tmp_path), asyncio.Semaphore(1))
    assert code != 0, output
    assert "action" in output
