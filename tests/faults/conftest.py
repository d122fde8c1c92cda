"""The fault experiments' own stack (`make test-faults`; `make test` leaves tests/faults out): a PostgreSQL cluster
to stop and kill, every service as a process on it, the machine's RabbitMQ through a vhost of the run's own.

The broker experiments (`test_broker*.py`) bring their own RabbitMQ nodes (`rabbitmq.py`) and need none of this:
these fixtures start only when a test asks for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.contracts.app import SCHEMA as CONTRACTS_SCHEMA
from services.registration.app import SCHEMA as REGISTRATION_SCHEMA
from shared.db import close_pool, create_pool
from tests.e2e.contracts_flows import Contracts
from tests.e2e.flows import Portal
from tests.faults.postgres import Postgres, running_postgres
from tests.faults.stack import SERVICES, FaultStack, migrated_stack, service_env
from tests.infra import ServiceProcess, free_port

# Small, so that a processing day of 2,000 contracts is 40 transactions and a kill lands between two of them.
PROCESS_BATCH = 50


@pytest.fixture(scope="session")
async def postgres() -> AsyncIterator[Postgres]:
    async with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
async def faults(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FaultStack]:
    """Every service and the portal, as processes, on `postgres`; stopped at the end, the vhost deleted."""
    var_dir = tmp_path_factory.mktemp("faults-var")
    run_id = uuid.uuid4().hex[:10]
    async with migrated_stack(postgres, var_dir, run_id, f"its_faults_{run_id}") as (stack, smtp_port):
        ports = {service: free_port() for service in SERVICES}
        env = service_env(stack, ports, smtp_port, ITS_PROCESS_BATCH=str(PROCESS_BATCH))
        processes = {
            service: ServiceProcess(service, env, ports[service], var_dir / "log" / f"{service}.log")
            for service in SERVICES
        }
        try:
            await asyncio.gather(*(process.start(timeout=60) for process in processes.values()))
            yield FaultStack(postgres, stack, processes, var_dir / "mail")
        finally:
            await asyncio.gather(*(process.stop() for process in processes.values()))


@pytest.fixture
async def flow(faults: FaultStack) -> AsyncIterator[Contracts]:
    """The e2e helpers (tests/e2e/contracts_flows.py: people, partners, the catalogue, contracts) on this stack."""
    async with contracts_flow(faults, faults.services) as contracts:
        yield contracts


@contextlib.asynccontextmanager
async def contracts_flow(faults: FaultStack, services: dict[str, ServiceProcess]) -> AsyncIterator[Contracts]:
    """The e2e helpers on `services` (by service name) of `faults`, reading its database."""
    registration_db = await create_pool(faults.stack.database_url, REGISTRATION_SCHEMA, min_size=1, max_size=2)
    contracts_db = await create_pool(faults.stack.database_url, CONTRACTS_SCHEMA, min_size=1, max_size=2)
    try:
        async with aiohttp.ClientSession() as http:
            portal = Portal(http, services, registration_db)
            yield Contracts(portal, services["contracts"].url, contracts_db, faults.stack, faults.mail_dir)
    finally:
        await close_pool(registration_db)
        await close_pool(contracts_db)
