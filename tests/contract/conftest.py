"""The services under schemathesis: identity, registration, contracts, updates, support and notifications as real
processes on a database, a vhost, a clock and an SMTP sink of their own — fuzzing fills tables and trips login
throttles that the other tests of the run must not see — and an access token for each kind of caller the documents
name."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from itsctl.tuf_root import KeyDirectory, init, now
from tests.infra import ServiceProcess, create_stack, drop_stack, free_port, migrate_all, service_processes

PASSWORD = "velvet orbit lantern 2026"


@dataclass(frozen=True)
class Callers:
    """Bearer tokens by the OpenAPI security scheme they answer (shared/openapi.py SECURITY_SCHEMES)."""

    customer: str  # the owner of a subscriber
    partner: str  # a partner's back-office system (client_credentials)
    operator: str


@pytest.fixture(scope="session")
async def contract_services(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, ServiceProcess]]:
    from devtools.smtp_sink import start_sink

    var_dir = tmp_path_factory.mktemp("contract-var")
    stack = await create_stack(var_dir)
    sink = None
    processes: dict[str, ServiceProcess] = {}
    try:
        await migrate_all(stack.database_url)
        (var_dir / "mail").mkdir()
        smtp_port = free_port()
        sink = start_sink(var_dir / "mail", "127.0.0.1", smtp_port)
        # updates with TUF keys, and (callers) a root installed: /tuf/ serves metadata for schemathesis to read.
        keys = KeyDirectory(var_dir / "tuf")
        init(keys, root_keys=1, threshold=1, expires=now() + timedelta(days=365))
        processes = service_processes(stack, smtp_port, ITS_TUF_KEYS_DIR=str(keys.online))
        for process in processes.values():
            await process.start()
        yield processes
    finally:
        for process in processes.values():
            await process.stop()
        if sink is not None:
            sink.stop()
        await drop_stack(stack)


@pytest.fixture(scope="session")
async def callers(contract_services: dict[str, ServiceProcess]) -> Callers:
    identity = contract_services["identity"]
    from services.identity.bootstrap import ensure_account
    from services.identity.settings import IdentitySettings

    operator_login = f"olga{uuid.uuid4().hex[:8]}"
    env = identity.env
    settings = IdentitySettings(
        env="test", database_url=env["ITS_DATABASE_URL"], amqp_url=env["ITS_AMQP_URL"], var_dir=Path(env["ITS_VAR_DIR"])
    )
    created = await ensure_account(
        settings,
        login=operator_login,
        password=PASSWORD,
        email=f"{operator_login}@vendor.example",
        full_name="Olga Operator",
        operator=True,
    )
    assert created == "created"
    async with aiohttp.ClientSession(base_url=identity.url) as http:

        async def token(form: dict[str, str], headers: dict[str, str] | None = None) -> str:
            async with http.post("/oauth/token", data=form, headers=headers) as response:
                body = await response.json()
                assert response.status == 200, body
                return str(body["access_token"])

        operator = await token({"grant_type": "password", "username": operator_login, "password": PASSWORD})
        owner_login = f"ivan{uuid.uuid4().hex[:8]}"
        account = {"login": owner_login, "password": PASSWORD, "email": f"{owner_login}@example.com"}
        async with http.post("/v1/accounts", json=account) as response:
            assert response.status == 201, await response.text()
        customer = await token({"grant_type": "password", "username": owner_login, "password": PASSWORD})
        partner = {"name": "Franchisee One", "tin": "7707083893", "city": "Kazan", "contact_email": "office@f1.example"}
        bearer = {"Authorization": f"Bearer {operator}"}
        async with http.post("/v1/partners", json=partner, headers=bearer) as response:
            partner_id = (await response.json())["id"]
        async with http.post(f"/v1/partners/{partner_id}/clients", json={"name": "back office"}, headers=bearer) as r:
            client = await r.json()
        basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
        partner_token = await token({"grant_type": "client_credentials"}, {"Authorization": f"Basic {basic}"})
    root = json.loads(KeyDirectory(Path(env["ITS_VAR_DIR"]) / "tuf").root_file(1).read_bytes())
    async with aiohttp.ClientSession() as http:
        updates = contract_services["updates"].url
        async with http.post(f"{updates}/v1/tuf/root", json=root, headers={"Authorization": f"Bearer {operator}"}) as r:
            assert r.status == 200, await r.text()
    return Callers(customer=customer, partner=partner_token, operator=operator)
