"""What the fault tests read of contracts to tell that contracts were activated: their state and the
`contracts.contract.activated` events in contracts' outbox."""

from __future__ import annotations

import uuid

from services.contracts.app import SCHEMA as CONTRACTS_SCHEMA
from tests.faults.stack import FaultStack

ACTIVATED = "contracts.contract.activated"


async def all_active(faults: FaultStack, ids: set[str]) -> bool:
    """Every one of these contracts is active."""
    active = await faults.fetchval(
        CONTRACTS_SCHEMA,
        "SELECT count(*) FROM contracts WHERE id = ANY($1) AND state = 'active'",
        [*map(uuid.UUID, ids)],
    )
    return bool(active >= len(ids))


async def activation_events(faults: FaultStack, ids: set[str]) -> dict[str, list[uuid.UUID]]:
    """contracts' outbox: the `contracts.contract.activated` events of each of these contracts."""
    rows = await faults.fetch(
        CONTRACTS_SCHEMA,
        "SELECT envelope->'data'->>'contract_id' AS contract, id FROM outbox "
        "WHERE routing_key = $1 AND envelope->'data'->>'contract_id' = ANY($2)",
        ACTIVATED,
        list(ids),
    )
    events: dict[str, list[uuid.UUID]] = {}
    for row in rows:
        events.setdefault(row["contract"], []).append(row["id"])
    return events
