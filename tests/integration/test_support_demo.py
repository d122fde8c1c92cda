"""The demo data of support (devtools.demo.contracts, devtools.demo.support) against identity, registration,
contracts and support as real processes: the demo customer's Accounting PROF gets an ITS contract accompanied by
"Demo Partner", active today, so that the demo customer's questions go to Demo Partner (SUP-1); loading it again
changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from devtools.demo.contracts import DEMO_CONTRACT, ensure_demo_contract, find_contract
from devtools.demo.identity import DEMO_PARTNER, load_demo_accounts
from devtools.demo.registration import CUSTOMER, load_demo_catalogue, register_demo_product
from devtools.demo.support import DEMO_QUESTIONS, ask_demo_questions
from itsctl._http import log_in
from services.identity.settings import IdentitySettings
from services.registration.public import RegistrationSettings, republish_registration
from shared.clock import TestClock
from shared.settings import BaseServiceSettings
from tests.infra import ServiceProcess, TestStack, free_port

SERVICES = ("identity", "registration", "contracts", "support")


@contextlib.asynccontextmanager
async def the_services(stack: TestStack, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, str]]:
    """identity, registration, contracts and support as processes; the demo finds them through ITS_<SERVICE>_URL."""
    ports = {name: free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = stack.env(
        ITS_PUBLIC_URL=urls["identity"],
        ITS_JWKS_URL=f"{urls['identity']}/.well-known/jwks.json",
        ITS_JOBS_POLL_SECONDS="0.1",
    )
    processes = [
        ServiceProcess(name, env, ports[name], stack.var_dir / "log" / f"demo-support-{name}.log") for name in SERVICES
    ]
    for name, url in urls.items():
        monkeypatch.setenv(f"ITS_{name.upper()}_URL", url)
    try:
        await asyncio.gather(*(process.start() for process in processes))
        yield urls
    finally:
        for process in reversed(processes):
            await process.stop()


async def customers_questions(urls: dict[str, str]) -> list[dict[str, Any]]:
    assert CUSTOMER.login is not None and CUSTOMER.password is not None
    async with aiohttp.ClientSession() as http:
        token = await log_in(http, urls["identity"], CUSTOMER.login, CUSTOMER.password)
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{urls['support']}/v1/questions", headers=headers) as response:
            items: list[dict[str, Any]] = (await response.json())["items"]
        threads = []
        for item in items:
            async with http.get(f"{urls['support']}/v1/questions/{item['id']}", headers=headers) as response:
                threads.append(await response.json())
    return threads


async def test_sup1_the_demo_customers_questions_go_to_demo_partner(
    migrated: TestStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = TestClock(migrated.var_dir)
    offset = clock.offset()
    async with the_services(migrated, monkeypatch) as urls:
        # The demo so far (other tests may have loaded some of it: it is idempotent).
        await load_demo_accounts(IdentitySettings())
        await load_demo_catalogue()
        await register_demo_product(RegistrationSettings())
        await republish_registration(RegistrationSettings())  # as its demo step does: for services started later

        settings = BaseServiceSettings()
        await ensure_demo_contract(settings)
        async with aiohttp.ClientSession() as http:
            contract = await find_contract(http)
        assert contract is not None and contract["state"] == "active"
        assert contract["number"] == DEMO_CONTRACT
        assert clock.offset() - offset < timedelta(seconds=1)  # the shared clock is back where it was

        asked = await ask_demo_questions(settings)
        assert sorted(asked) == sorted(q.subject for q in DEMO_QUESTIONS)

        # Loading again changes nothing.
        assert await ensure_demo_contract(settings) is False
        assert await ask_demo_questions(settings) == []

        threads = {t["subject"]: t for t in await customers_questions(urls)}
    assert set(threads) == {q.subject for q in DEMO_QUESTIONS}
    for demo in DEMO_QUESTIONS:
        thread = threads[demo.subject]
        if demo.kind == "feedback":
            assert thread["routed_to"]["kind"] == "vendor" and thread["state"] == "new"
            continue
        assert thread["routed_to"] == {"kind": "partner", "id": contract["partner_id"], "name": DEMO_PARTNER}
        [answer] = [m for m in thread["messages"] if m["side"] == "staff"]
        assert answer["minutes_spent"] == demo.minutes and answer["body"] == demo.answer
        if demo.rating is None:
            assert thread["state"] == "answered"
        else:
            assert thread["state"] == "closed"
            assert (thread["rating"], thread["rating_comment"]) == demo.rating
