"""The scale test's stack (`make test-scale`; `make test` leaves tests/scale out): two replicas of identity,
registration, contracts, updates, notifications and support as processes, behind the real gateway (nginx,
deploy/nginx/gateway.conf, each backend's upstream listing both replicas), on the fault experiments' own PostgreSQL
cluster (tests/faults/postgres.py), a vhost of the run's own on the machine's RabbitMQ, an SMTP sink and a test clock
of their own.

A replica is `<service>/<n>` in `FaultStack.services` (`contracts/1`, `contracts/2`), so the fault experiments'
kill and restart reach one replica. Every replica reads identity's keys from identity/1: a restarted replica asks it
for them when its first token comes, so identity/1 is started again first.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from devtools.dev_cert import ensure_dev_cert
from devtools.gateway import Site, running
from tests.e2e.contracts_flows import Contracts
from tests.faults.conftest import (
    contracts_flow,
    postgres,  # noqa: F401  (the fixture: the experiments' own cluster)
)
from tests.faults.postgres import Postgres
from tests.faults.stack import FaultStack, migrated_stack, service_env
from tests.infra import ServiceProcess, free_port

SERVICES = ("identity", "registration", "contracts", "updates", "notifications", "support")
REPLICAS = 2
# The partners' contracts, as many as issue 20 asks: about 6 minutes on two shared cores, since notifications sends
# four e-mails at once per replica (ITS_SEND_WORKERS; one at a time it took 7 min 18 s). ITS_SCALE_CONTRACTS to vary.
CONTRACTS = int(os.environ.get("ITS_SCALE_CONTRACTS") or 10_000)
# The processing day in 40 transactions: a kill lands between two of them.
PROCESS_BATCH = max(CONTRACTS // 40, 10)


def replica(service: str, n: int) -> str:
    return f"{service}/{n}"


@dataclass
class ScaleStack:
    faults: FaultStack  # every replica, by `replica(service, n)`
    gateway: str  # https://127.0.0.1:<port>

    def replicas(self, n: int) -> list[str]:
        """Replica `n` of every service, identity's first (the others ask it for its keys)."""
        return [replica(service, n) for service in SERVICES]


@pytest.fixture(scope="module")
async def scale(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ScaleStack]:  # noqa: F811
    var_dir = tmp_path_factory.mktemp("scale-var")
    name = f"its_scale_{uuid.uuid4().hex[:10]}"
    async with migrated_stack(postgres, var_dir, name, name) as (stack, smtp_port):
        ports = {replica(s, n): free_port() for s in SERVICES for n in range(1, REPLICAS + 1)}
        first = {s: ports[replica(s, 1)] for s in SERVICES}
        env = service_env(stack, first, smtp_port, ITS_PROCESS_BATCH=str(PROCESS_BATCH))
        processes = {
            name: ServiceProcess(name.split("/")[0], env, port, var_dir / "log" / f"{name.replace('/', '-')}.log")
            for name, port in ports.items()
        }
        directory = var_dir / "gateway"
        cert, key = ensure_dev_cert(directory / "tls")
        upstreams = {s: [f"127.0.0.1:{ports[replica(s, n)]}" for n in range(1, REPLICAS + 1)] for s in SERVICES}
        site = Site(free_port(), free_port(), cert, key, var_dir / "kits", directory / "log", upstreams)
        try:
            await asyncio.gather(*(process.start(timeout=90) for process in processes.values()))
            async with running(directory / "nginx", site) as url:
                yield ScaleStack(FaultStack(postgres, stack, processes, var_dir / "mail"), url)
        finally:
            await asyncio.gather(*(process.stop() for process in processes.values()))


@pytest.fixture
async def flow(scale: ScaleStack) -> AsyncIterator[Contracts]:
    """The e2e helpers on replica 1 of each service, to set the scene (people, partners, the catalogue): the load
    itself goes through the gateway."""
    faults = scale.faults
    async with contracts_flow(faults, {service: faults.services[replica(service, 1)] for service in SERVICES}) as flow:
        yield flow
