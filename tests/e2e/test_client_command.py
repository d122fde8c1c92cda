"""The installed `its-client` command, run as a customer runs it: a process of its own, through the real gateway
(deploy/nginx/gateway.conf, its self-signed certificate trusted with `--ca-file`), in front of the real services.
login → status → plan → update with `--json` for a program, the same in words for a person, the refusals with their
exit codes (3 not logged in, 1 not covered with the offer, 4 no connection, 2 usage), never a traceback or a token.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.dev_cert import ensure_dev_cert
from devtools.gateway import Site, available, running
from tests.e2e.client_flows import files_under
from tests.e2e.contracts_flows import Contracts, contracts_db, flow, registration_db
from tests.e2e.flows import PASSWORD, SignedMetadata, signed_metadata
from tests.e2e.test_updates_flow import LONG_AGO, Updates, moscow_today, owner_with
from tests.infra import ServiceProcess, free_port

__all__ = ["contracts_db", "flow", "registration_db", "signed_metadata"]  # fixtures

ITS_CLIENT = Path(sys.executable).parent / "its-client"  # installed into the venv (make venv: -e ./clients/python)


@dataclass(frozen=True)
class Gateway:
    url: str
    cert: Path


@pytest.fixture
async def gateway(
    services: dict[str, ServiceProcess], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    """A gateway of each test's own: each command is a new process that renews its access token at /oauth/token, which
    the gateway allows one address 10 times at once, then 30 a minute. One test's commands fit; a module's did not (a
    test answered 429 when the one before it had run fast)."""
    if not available():
        pytest.skip("nginx is not installed (make infra installs it)")
    directory = tmp_path_factory.mktemp("client-gateway")
    cert, key = ensure_dev_cert(directory / "tls")
    (directory / "kits").mkdir()
    upstreams = {name: f"127.0.0.1:{process.port}" for name, process in services.items()}
    site = Site(free_port(), free_port(), cert, key, directory / "kits", directory / "log", upstreams)
    async with running(directory / "nginx", site) as url:
        yield Gateway(url, cert)


@pytest.fixture
async def updates(flow: Contracts, services: dict[str, ServiceProcess], tmp_path: Path) -> Updates:
    return Updates(flow, services["updates"].url, tmp_path)


@dataclass
class Command:
    """`its-client` with the gateway's address, its certificate and a config directory of this test's."""

    gateway: Gateway
    config_dir: Path
    seen: list[str]  # everything it printed, to look for tokens and tracebacks
    root: Path | None = None  # the root of the signed update metadata the program ships with (--root)

    async def __call__(self, *args: str, url: str | None = None, ca: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(ITS_CLIENT), "--url", url or self.gateway.url, "--config-dir", str(self.config_dir)]
        if ca:
            command += ["--ca-file", str(self.gateway.cert)]
        if self.root is not None:
            command += ["--root", str(self.root)]
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
        done = await asyncio.to_thread(
            subprocess.run, [*command, *args], capture_output=True, text=True, timeout=120, env=env, check=False
        )
        self.seen += [done.stdout, done.stderr]
        assert "Traceback" not in done.stderr, done.stderr
        return done

    async def json(self, *args: str) -> Any:
        done = await self(*args, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)


def flat(text: str) -> str:
    return " ".join(text.split())


async def test_acc3_mon1_upd5_the_command_logs_in_reads_the_status_plans_and_updates_through_the_gateway(
    gateway: Gateway, updates: Updates, signed_metadata: SignedMetadata, tmp_path: Path
) -> None:
    operator = await updates.flow.portal.operator()
    owner, configuration, number = await owner_with(updates, operator, edition="CORP")  # in its free period
    kits = await updates.release(operator, configuration, "3.0.40.10", [])
    kits |= await updates.release(operator, configuration, "3.0.41.20", ["3.0.40.10"], update_size=500_000)
    await updates.visible(owner, configuration)
    its_client = Command(gateway, tmp_path / "config", [], signed_metadata.root_file)
    versions = ["-c", configuration, "-v", "3.0.40.10", "-p", "8.3.24.1342"]

    login = await its_client.json("login", "--username", owner.login, "--password", PASSWORD)
    assert login["name"] == owner.full_name and login["account"]["login"] == owner.login
    words = await its_client("login", "--username", owner.login, "--password", PASSWORD)
    assert words.returncode == 0 and words.stdout.strip() == f"Connected as {owner.full_name}"  # ACC-3

    [product] = await its_client.json("products")
    assert (product["registration_number"], product["configurations"]) == (number, [configuration])
    status = await its_client.json("status", "-n", number, "-c", configuration)
    assert status == await updates.flow.support_status(owner, number, configuration)
    said = await its_client("status", "-n", number, "-c", configuration)
    assert said.returncode == 0 and f"Product {number}, configuration {configuration}" in said.stdout
    assert "free period until" in flat(said.stdout)

    plan = await its_client.json("plan", *versions)
    assert [s["version"] for s in plan["steps"]] == ["3.0.41.20"] and plan["download"]["allowed"] is True
    said = await its_client("plan", *versions)
    assert said.returncode == 0 and f"{configuration} 3.0.40.10 → 3.0.41.20: 1 step" in said.stdout
    assert "Next: its-client update" in said.stdout

    to = tmp_path / "updates"
    update = await its_client.json("update", *versions, "--to", str(to))
    target = f"configurations/{configuration}/3.0.41.20/{configuration}_3_0_41_20.cfu"
    assert [k["target"] for k in update["kits"]] == [target]
    assert files_under(to) == {target: kits[f"{configuration}_3_0_41_20.cfu"]}
    [kit] = update["kits"]
    assert kit["sha256"] == hashlib.sha256(kits[f"{configuration}_3_0_41_20.cfu"]).hexdigest()
    assert set(kit["verified_by"]) >= {"plan", "ETag", "link", "signed metadata"}
    again = await its_client("update", *versions, "--to", str(to))  # nothing new to fetch: checked, kept
    assert again.returncode == 0 and "already there" in again.stdout and "1 file verified" in again.stdout

    # A program that ships no root (and has none kept from before) trusts no metadata on first sight: nothing fetched.
    rootless = Command(gateway, tmp_path / "rootless", [])
    await rootless.json("login", "--username", owner.login, "--password", PASSWORD)
    refused = await rootless("update", *versions, "--to", str(tmp_path / "rootless-updates"))
    assert refused.returncode == 1 and "--root FILE" in refused.stderr, refused.stderr
    assert files_under(tmp_path / "rootless-updates") == {}
    as_json = await rootless("update", *versions, "--to", str(tmp_path / "rootless-updates"), "--json")
    assert json.loads(as_json.stdout)["error"]["refusal"] == "no-root"

    [login_file] = (tmp_path / "config").glob("*.json")
    token = json.loads(login_file.read_text())["refresh_token"]
    logout = await its_client("logout")
    assert logout.returncode == 0 and logout.stdout.strip() == f"Logged out of {gateway.url}"
    after = await its_client("status", "-n", number, "-c", configuration)
    assert after.returncode == 3 and "Log in first" in after.stderr
    assert not any(token in text for text in its_client.seen)  # the token is never printed


async def test_upd4_the_command_says_what_to_buy_and_exits_1_when_not_covered(
    gateway: Gateway, updates: Updates, tmp_path: Path
) -> None:
    operator = await updates.flow.portal.operator()
    owner, configuration, number = await owner_with(updates, operator, edition="PROF", purchase_date=LONG_AGO)
    await updates.release(operator, configuration, "3.0.40.10", [])
    await updates.release(operator, configuration, "3.0.41.20", ["3.0.40.10"])
    await updates.visible(owner, configuration)
    its_client = Command(gateway, tmp_path / "config", [])
    await its_client.json("login", "--username", owner.login, "--password", PASSWORD)
    versions = ["-c", configuration, "-v", "3.0.40.10", "-p", "8.3.24.1342"]

    refused = await its_client("update", *versions, "--to", str(tmp_path / "updates"))
    assert refused.returncode == 1
    month = f"{moscow_today():%B %Y}"
    assert "You cannot download this kit" in refused.stderr
    assert f"Subscribe to ITS for {month} for {number}" in flat(refused.stderr)
    as_json = await its_client("update", *versions, "--to", str(tmp_path / "updates"), "--json")
    assert as_json.returncode == 1
    error = json.loads(as_json.stdout)["error"]
    assert error["error"] == "NotCovered" and error["status"] == 402
    assert error["offer"]["month"] == moscow_today().strftime("%Y-%m")
    said = await its_client("status", "-n", number, "-c", configuration)
    assert said.returncode == 0 and "NOT supported" in said.stdout and "no ITS contract covers" in flat(said.stdout)


async def test_connection_failures_and_usage_errors_have_their_exit_codes(gateway: Gateway, tmp_path: Path) -> None:
    its_client = Command(gateway, tmp_path / "config", [])
    nowhere = f"https://127.0.0.1:{free_port()}"
    nobody = await its_client("login", "--username", "x", "--password", "y", url=nowhere)
    assert nobody.returncode == 4 and "cannot reach" in nobody.stderr
    not_logged_in = await its_client("status", "-n", "80012345678", "-c", "Accounting", url=nowhere)
    assert not_logged_in.returncode == 3 and "log in first" in not_logged_in.stderr  # asks nobody: no login kept
    # The local gateway's certificate is its own CA: without --ca-file it is not trusted.
    untrusted = await its_client("login", "--username", "x", "--password", "y", ca=False)
    assert untrusted.returncode == 4 and "--ca-file" in untrusted.stderr
    wrong = await its_client("login", "--username", "nobody-at-all", "--password", "wrong password")
    assert wrong.returncode == 3 and "the login or password is wrong" in wrong.stderr
    usage = await its_client("status", "-n", "80012345678")
    assert usage.returncode == 2 and "--configuration" in usage.stderr
    both = await its_client("ask", "-s", "Subject")
    assert both.returncode == 2 and "--body" in both.stderr
