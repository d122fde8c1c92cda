"""`itsctl catalogue import` and `itsctl registration issue` against real identity and registration processes."""

from __future__ import annotations

import asyncio
import json
import secrets
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from typer.testing import CliRunner, Result

from itsctl import registration as itsctl_registration
from itsctl._http import Api, ServiceError, log_in
from itsctl.cli import app
from itsctl.registration import Issued, issue_numbers
from services.identity.settings import IdentitySettings
from services.registration.app import SCHEMA
from tests.infra import ServiceProcess, TestStack, free_port
from tests.integration.itsctl_fixtures import PASSWORD, identity_and, new_account, rows


def ean13() -> str:
    """A random, valid EAN-13 article: every test's products are its own."""
    body = f"2{secrets.randbelow(10**11):011d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def flat(text: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(text.split())


class Services:
    def __init__(self, stack: TestStack, identity: ServiceProcess, registration: ServiceProcess, login: str) -> None:
        self.stack, self.identity, self.registration, self.login = stack, identity, registration, login

    def env(self, **extra: str | None) -> dict[str, str | None]:
        return {
            "ITS_IDENTITY_URL": self.identity.url,
            "ITS_REGISTRATION_URL": self.registration.url,
            "ITS_OPERATOR_LOGIN": self.login,
            "ITS_OPERATOR_PASSWORD": PASSWORD,
            "ITS_TOKEN": None,
            **extra,
        }

    def itsctl(self, *args: str, input: str | None = None, **env: str | None) -> Result:
        return CliRunner().invoke(app, list(args), env=self.env(**env), input=input, catch_exceptions=False)

    async def numbers(self, article: str) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.stack.database_url, server_settings={"search_path": SCHEMA})
        try:
            return await conn.fetch("SELECT number, pin_hash FROM registration_numbers WHERE article = $1", article)
        finally:
            await conn.close()


# registration issues up to 20 numbers in a request, more as a deferred batch in chunks of 7.
AT_ONCE, CHUNK = 20, 7


@pytest.fixture(scope="module")
async def services(migrated: TestStack) -> AsyncIterator[Services]:
    deferred = {"ITS_ISSUE_AT_ONCE": str(AT_ONCE), "ITS_ISSUE_CHUNK": str(CHUNK), "ITS_JOBS_POLL_SECONDS": "0.05"}
    async with identity_and(migrated, "registration", **deferred) as (identity, registration, login):
        yield Services(migrated, identity, registration, login)


@pytest.fixture
def catalogue(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A catalogue file of this test's own: two configurations, a product with PINs and one without."""
    tag = uuid.uuid4().hex[:8]
    data = {
        "configurations": [
            {"code": f"Acc{tag}", "name": "Accounting", "maintenance_category": 1, "vendor": "Test"},
            {"code": f"Pay{tag}", "name": "Payroll", "maintenance_category": 2, "vendor": "Test"},
        ],
        "products": [
            {
                "article": ean13(),
                "name": f"Accounting PROF {tag}",
                "edition": "PROF",
                "configurations": [f"Acc{tag}"],
                "pin_envelope": True,
            },
            {
                "article": ean13(),
                "name": f"Suite CORP {tag}",
                "edition": "CORP",
                "configurations": [f"Acc{tag}", f"Pay{tag}"],
                "pin_envelope": False,
                "its_required": True,
            },
        ],
    }
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(data))
    return path, data


@pytest.fixture
def imported(services: Services, catalogue: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    path, data = catalogue
    result = services.itsctl("catalogue", "import", str(path))
    assert result.exit_code == 0, result.output
    return data


# ---- catalogue import -----------------------------------------------------------------------


def test_import_creates_then_updates(services: Services, catalogue: tuple[Path, dict[str, Any]]) -> None:
    path, data = catalogue
    first = services.itsctl("catalogue", "import", str(path))
    assert first.exit_code == 0, first.output
    assert "configurations: 2 created, 0 updated; products: 2 created, 0 updated" in flat(first.output)
    again = services.itsctl("catalogue", "import", str(path), "--verbose")
    assert again.exit_code == 0, again.output
    assert "configurations: 0 created, 2 updated; products: 0 created, 2 updated" in flat(again.output)
    assert f"product {data['products'][0]['article']}: updated" in again.output


async def test_the_products_are_as_in_the_file(services: Services, imported: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as http:
        token = await log_in(http, services.identity.url, services.login, PASSWORD)
        api = Api(http, "registration", services.registration.url, token)
        prof, corp = imported["products"]
        _, got = await api.call("GET", f"/v1/products/{prof['article']}")
        assert got["name"] == prof["name"] and got["edition"] == "PROF" and got["pin_envelope"] is True
        assert got["its_required"] is True  # not in the file: the service's default for PROF (ITS-7)
        _, got = await api.call("GET", f"/v1/products/{corp['article']}")
        assert sorted(got["configurations"]) == sorted(corp["configurations"]) and got["pin_envelope"] is False


def test_import_asks_for_the_password_and_reports_a_wrong_one(
    services: Services, catalogue: tuple[Path, dict[str, Any]]
) -> None:
    path, _ = catalogue
    prompted = services.itsctl("catalogue", "import", str(path), input=PASSWORD + "\n", ITS_OPERATOR_PASSWORD=None)
    assert prompted.exit_code == 0, prompted.output
    assert f"Password of {services.login}" in prompted.output
    assert PASSWORD not in prompted.output
    wrong = services.itsctl("catalogue", "import", str(path), ITS_OPERATOR_PASSWORD="not the password")
    assert wrong.exit_code == 1
    assert "identity answered 400" in flat(wrong.output) and "invalid_grant" in wrong.output


async def test_import_with_a_token_and_refused_to_a_non_operator(
    services: Services, catalogue: tuple[Path, dict[str, Any]]
) -> None:
    path, _ = catalogue
    customer = f"cu{uuid.uuid4().hex[:10]}"
    await new_account(customer, operator=False)
    async with aiohttp.ClientSession() as http:
        operator_token = await log_in(http, services.identity.url, services.login, PASSWORD)
        customer_token = await log_in(http, services.identity.url, customer, PASSWORD)

    def itsctl(token: str) -> Result:
        return services.itsctl("catalogue", "import", str(path), ITS_TOKEN=token, ITS_OPERATOR_LOGIN=None)

    ok = await asyncio.to_thread(itsctl, operator_token)
    assert ok.exit_code == 0, ok.output
    refused = await asyncio.to_thread(itsctl, customer_token)
    assert refused.exit_code == 1
    assert "registration answered 403" in flat(refused.output) and "operator" in refused.output


def test_import_refuses_an_unknown_configuration(services: Services, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        f"products:\n  - {{article: '{ean13()}', name: X, edition: BASIC, configurations: [NoSuch{uuid.uuid4().hex}],"
        " pin_envelope: true}\n"
    )
    result = services.itsctl("catalogue", "import", str(path))
    assert result.exit_code == 1
    assert "422" in result.output and "not in the catalogue" in flat(result.output)


def test_import_says_when_identity_cannot_be_reached(
    services: Services, catalogue: tuple[Path, dict[str, Any]]
) -> None:
    result = services.itsctl(
        "catalogue", "import", str(catalogue[0]), ITS_IDENTITY_URL=f"http://127.0.0.1:{free_port()}"
    )
    assert result.exit_code == 1
    assert "cannot reach 127.0.0.1" in flat(result.output)


# ---- registration issue ---------------------------------------------------------------------


async def test_issue_writes_every_number_with_its_pin(
    services: Services, imported: dict[str, Any], tmp_path: Path
) -> None:
    product = imported["products"][0]
    out = tmp_path / "numbers.csv"
    args = ("registration", "issue", "--article", product["article"], "--count", "25", "--batch", "10")
    result = await asyncio.to_thread(services.itsctl, *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "25 registration numbers with PINs" in flat(result.output) and "(3 batches)" in flat(result.output)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().splitlines()[0] == "registration_number,pin,article,product_name,edition"
    written = rows(out)
    assert len(written) == 25 and len({r["registration_number"] for r in written}) == 25
    assert all(len(r["pin"]) == 12 and r["pin"].isdigit() for r in written)
    assert {(r["article"], r["product_name"], r["edition"]) for r in written} == {
        (product["article"], product["name"], "PROF")
    }
    stored = await services.numbers(product["article"])
    assert {r["number"] for r in stored} == {r["registration_number"] for r in written}
    assert all(r["pin_hash"] and r["pin_hash"].startswith("$argon2id$") for r in stored)


async def test_a_large_batch_is_followed_to_the_end_and_written_once(
    services: Services, imported: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More than the service issues at once: one request answered 202, the progress followed chunk by chunk
    as the service commits them, then the numbers and PINs fetched once and written."""
    monkeypatch.setattr(itsctl_registration, "POLL_SECONDS", 0.01)  # many looks at a batch that takes ~1 s
    product = imported["products"][0]
    out = tmp_path / "numbers.csv"
    advances: list[int] = []
    async with aiohttp.ClientSession() as http:
        token = await log_in(http, services.identity.url, services.login, PASSWORD)
        api = Api(http, "registration", services.registration.url, token)
        with out.open("w", newline="") as f:
            issued = await issue_numbers(
                api, product["article"], 400, with_pin=None, batch=400, out=f, on_batch=advances.append
            )
    assert issued.written == 400 and len(issued.batches) == 1 and issued.with_pins
    assert sum(advances) == 400 and len(advances) > 1, advances  # the bar moved as chunks were committed
    written = rows(out)
    assert len({r["registration_number"] for r in written}) == 400 and all(len(r["pin"]) == 12 for r in written)
    stored = await services.numbers(product["article"])
    assert {r["registration_number"] for r in written} <= {r["number"] for r in stored}

    # The command line, with its default batch size: one deferred batch.
    out = tmp_path / "more.csv"
    args = ("registration", "issue", "--article", product["article"], "--count", "30", "--out", str(out))
    result = await asyncio.to_thread(services.itsctl, *args)
    assert result.exit_code == 0, result.output
    assert "30 registration numbers with PINs" in flat(result.output) and "(1 batch)" in flat(result.output)
    assert len(rows(out)) == 30


def test_issue_without_pins(services: Services, imported: dict[str, Any], tmp_path: Path) -> None:
    with_envelope, without = imported["products"]
    out = tmp_path / "a.csv"
    result = services.itsctl(
        "registration", "issue", "--article", without["article"], "--count", "3", "--out", str(out)
    )
    assert result.exit_code == 0, result.output  # the product's default: no PIN envelope
    assert "without PINs" in flat(result.output)
    assert [r["pin"] for r in rows(out)] == ["", "", ""]
    out = tmp_path / "b.csv"
    args = ("registration", "issue", "--article", with_envelope["article"], "--count", "2", "--no-pin")
    result = services.itsctl(*args, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert [r["pin"] for r in rows(out)] == ["", ""]


def test_issue_refuses_to_overwrite_unless_forced(services: Services, imported: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "numbers.csv"
    out.write_text("keep me\n")
    out.chmod(0o644)
    args = ("registration", "issue", "--article", imported["products"][0]["article"], "--count", "2", "--out", str(out))
    refused = services.itsctl(*args)
    assert refused.exit_code == 2 and "--force" in refused.output
    assert out.read_text() == "keep me\n"
    forced = services.itsctl(*args, "--force")
    assert forced.exit_code == 0, forced.output
    assert len(rows(out)) == 2
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_issue_refused_by_the_service_leaves_no_file(
    services: Services, imported: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "numbers.csv"
    no_envelope = imported["products"][1]["article"]
    result = services.itsctl(
        "registration", "issue", "--article", no_envelope, "--count", "2", "--with-pin", "--out", str(out)
    )
    assert result.exit_code == 1
    assert "without PIN envelopes" in flat(result.output) and "no numbers were written" in flat(result.output)
    assert not out.exists()
    unknown = services.itsctl("registration", "issue", "--article", ean13(), "--count", "2", "--out", str(out))
    assert unknown.exit_code == 1 and "404" in unknown.output and not out.exists()


def test_issue_checks_the_article_before_asking_anything(services: Services, tmp_path: Path) -> None:
    out = tmp_path / "numbers.csv"
    result = services.itsctl("registration", "issue", "--article", "4601546041806", "--count", "2", "--out", str(out))
    assert result.exit_code == 2 and "not an EAN-13 code" in flat(result.output)
    assert not out.exists()


class RefusingAfter(Api):
    """Stops the product's PIN envelopes after `calls` requests, so that the next batch is refused."""

    def __init__(self, api: Api, article: str, calls: int) -> None:
        super().__init__(api.http, api.service, api.base_url, api.headers["Authorization"].removeprefix("Bearer "))
        self.article, self.calls = article, calls

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self.calls == 0:
            _, product = await super().call("GET", f"/v1/products/{self.article}")
            change = {k: product[k] for k in ("name", "edition", "configurations", "its_required")}
            await super().call("PUT", f"/v1/products/{self.article}", {**change, "pin_envelope": False})
        self.calls -= 1
        return await super().call(method, path, body)


async def test_an_error_midway_keeps_what_was_written(
    services: Services, imported: dict[str, Any], tmp_path: Path
) -> None:
    article = imported["products"][0]["article"]
    out = tmp_path / "numbers.csv"
    issued = Issued()
    async with aiohttp.ClientSession() as http:
        token = await log_in(http, services.identity.url, services.login, PASSWORD)
        api = RefusingAfter(Api(http, "registration", services.registration.url, token), article, calls=2)
        with out.open("w", newline="") as f, pytest.raises(ServiceError) as caught:
            await issue_numbers(api, article, 50, with_pin=True, batch=10, out=f, issued=issued)
    assert caught.value.status == 422
    assert issued.written == 20 and len(issued.batches) == 2 and issued.requested == 10
    written = rows(out)
    assert len(written) == 20 and all(r["pin"] for r in written)
    assert len(await services.numbers(article)) == 20


# ---- the demo catalogue ---------------------------------------------------------------------


async def demo_partner_cabinets(identity_url: str) -> list[tuple[str, bool]]:
    """The partner cabinets the demo partner account may open in the portal."""
    from devtools.demo.identity import DEMO_ACCOUNTS, DEMO_PARTNER_ADMIN

    password = next(a[1] for a in DEMO_ACCOUNTS if a[0] == DEMO_PARTNER_ADMIN)
    async with aiohttp.ClientSession() as http:
        token = await log_in(http, identity_url, DEMO_PARTNER_ADMIN, password)
        async with http.get(f"{identity_url}/v1/me/partners", headers={"Authorization": f"Bearer {token}"}) as r:
            return [(p["name"], p["admin"]) for p in (await r.json())["items"]]


def test_the_demo_loads_the_demo_catalogue(
    services: Services, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from devtools.demo import registration as demo
    from devtools.demo.identity import load_demo_accounts

    asyncio.run(load_demo_accounts(IdentitySettings()))  # the demo accounts and the demo partner
    capsys.readouterr()
    monkeypatch.setenv("ITS_IDENTITY_URL", services.identity.url)
    monkeypatch.setenv("ITS_REGISTRATION_URL", services.registration.url)
    demo.main()
    first = capsys.readouterr().out.splitlines()
    assert first[0].startswith("demo catalogue (demo_catalogue.yaml): configurations:")
    # The demo customer's Accounting PROF, authorised by the demo partner (REG-5), made once.
    assert first[1].startswith("demo: Accounting PROF ") and len(first) == 2
    assert asyncio.run(demo_partner_cabinets(services.identity.url)) == [("Demo Partner", True)]
    demo.main()  # idempotent
    again = capsys.readouterr().out.splitlines()
    assert again == [
        "demo catalogue (demo_catalogue.yaml): configurations: 0 created, 4 updated; products: 0 created, 6 updated"
    ]
