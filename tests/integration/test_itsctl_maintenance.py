"""`itsctl maintenance issue-codes` against real identity and contracts processes."""

from __future__ import annotations

import asyncio
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from typer.testing import CliRunner, Result

from itsctl._http import Api, ServiceError, log_in
from itsctl.cli import app
from itsctl.maintenance import IssuedCodes, issue_codes
from services.contracts.activation_codes import code_hash
from services.contracts.app import SCHEMA
from tests.infra import ServiceProcess, TestStack, free_port
from tests.integration.itsctl_fixtures import PASSWORD, identity_and, new_account, rows


def flat(text: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(text.split())


class Services:
    def __init__(self, stack: TestStack, identity: ServiceProcess, contracts: ServiceProcess, login: str) -> None:
        self.stack, self.identity, self.contracts, self.login = stack, identity, contracts, login

    def itsctl(self, *args: str, **env: str | None) -> Result:
        settings: dict[str, str | None] = {
            "ITS_IDENTITY_URL": self.identity.url,
            "ITS_CONTRACTS_URL": self.contracts.url,
            "ITS_OPERATOR_LOGIN": self.login,
            "ITS_OPERATOR_PASSWORD": PASSWORD,
            "ITS_TOKEN": None,
            **env,
        }
        return CliRunner().invoke(app, list(args), env=settings, catch_exceptions=False)

    async def stored(self, codes: list[str]) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.stack.database_url, server_settings={"search_path": SCHEMA})
        try:
            return await conn.fetch(
                "SELECT category, months, batch_id, used_at FROM activation_codes WHERE code_hash = ANY($1::bytea[])",
                [code_hash(c) for c in codes],
            )
        finally:
            await conn.close()


@pytest.fixture(scope="module")
async def services(migrated: TestStack) -> AsyncIterator[Services]:
    async with identity_and(migrated, "contracts") as (identity, contracts, login):
        yield Services(migrated, identity, contracts, login)


async def test_issue_codes_writes_every_code_once_in_batches(services: Services, tmp_path: Path) -> None:
    out = tmp_path / "codes.csv"
    args = ("maintenance", "issue-codes", "--category", "1", "--months", "12", "--count", "25", "--batch", "10")
    result = await asyncio.to_thread(services.itsctl, *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "25 activation codes of category 1 for 12 months" in flat(result.output)
    assert "(3 batches)" in flat(result.output)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().splitlines()[0] == "code,category,months,batch_id"
    written = rows(out)
    codes = [r["code"] for r in written]
    assert len(written) == 25 and len(set(codes)) == 25
    assert all(len(c) == 19 and c.count("-") == 3 for c in codes)
    assert {(r["category"], r["months"]) for r in written} == {("1", "12")}
    assert len({r["batch_id"] for r in written}) == 3
    stored = await services.stored(codes)
    assert len(stored) == 25  # only the hashes are kept: each code's hash is there
    assert {(r["category"], r["months"], r["used_at"]) for r in stored} == {(1, 12, None)}
    assert {str(r["batch_id"]) for r in stored} == {r["batch_id"] for r in written}


def test_issue_codes_refuses_to_overwrite_unless_forced(services: Services, tmp_path: Path) -> None:
    out = tmp_path / "codes.csv"
    out.write_text("keep me\n")
    out.chmod(0o644)
    args = ("maintenance", "issue-codes", "--category", "2", "--months", "3", "--count", "2", "--out", str(out))
    refused = services.itsctl(*args)
    assert refused.exit_code == 2 and "--force" in refused.output
    assert out.read_text() == "keep me\n"
    forced = services.itsctl(*args, "--force")
    assert forced.exit_code == 0, forced.output
    assert [(r["category"], r["months"]) for r in rows(out)] == [("2", "3"), ("2", "3")]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_issue_codes_checks_its_options_before_asking_anything(services: Services, tmp_path: Path) -> None:
    out = tmp_path / "codes.csv"
    for option, value in (("--category", "3"), ("--months", "37"), ("--count", "0")):
        args = {"--category": "1", "--months": "12", "--count": "5", option: value}
        result = services.itsctl(
            "maintenance", "issue-codes", *(x for kv in args.items() for x in kv), "--out", str(out)
        )
        assert result.exit_code == 2, result.output
        assert not out.exists()


async def test_issue_codes_refused_to_a_non_operator_leaves_no_file(services: Services, tmp_path: Path) -> None:
    customer = f"cu{uuid.uuid4().hex[:10]}"
    await new_account(customer, operator=False)
    out = tmp_path / "codes.csv"
    args = ("maintenance", "issue-codes", "--category", "1", "--months", "1", "--count", "2", "--out", str(out))
    result = await asyncio.to_thread(services.itsctl, *args, ITS_OPERATOR_LOGIN=customer)
    assert result.exit_code == 1
    assert "contracts answered 403" in flat(result.output) and "no codes were written" in flat(result.output)
    assert not out.exists()


def test_issue_codes_says_when_contracts_cannot_be_reached(services: Services, tmp_path: Path) -> None:
    out = tmp_path / "codes.csv"
    args = ("maintenance", "issue-codes", "--category", "1", "--months", "1", "--count", "2", "--out", str(out))
    result = services.itsctl(*args, ITS_CONTRACTS_URL=f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1
    assert "cannot reach 127.0.0.1" in flat(result.output) and "ITS_CONTRACTS_URL" in flat(result.output)
    assert not out.exists()


class FailingAfter(Api):
    """Answers `calls` requests, then the next one is refused by the service (a count over its limit)."""

    def __init__(self, api: Api, calls: int) -> None:
        super().__init__(api.http, api.service, api.base_url, api.headers["Authorization"].removeprefix("Bearer "))
        self.calls = calls

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self.calls == 0:
            body = {**body, "count": 10_001}
        self.calls -= 1
        return await super().call(method, path, body)


async def test_an_error_midway_keeps_what_was_written(services: Services, tmp_path: Path) -> None:
    out = tmp_path / "codes.csv"
    issued = IssuedCodes()
    async with aiohttp.ClientSession() as http:
        token = await log_in(http, services.identity.url, services.login, PASSWORD)
        api = FailingAfter(Api(http, "contracts", services.contracts.url, token), calls=2)
        with out.open("w", newline="") as f, pytest.raises(ServiceError) as caught:
            await issue_codes(api, 1, 6, 50, batch=10, out=f, issued=issued)
    assert caught.value.status == 422
    assert issued.written == 20 and len(issued.batches) == 2 and issued.requested == 10
    written = rows(out)
    assert len(written) == 20 and len(await services.stored([r["code"] for r in written])) == 20
