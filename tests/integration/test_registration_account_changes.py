"""registration's read model of accounts follows the holder's changes (ACC-4): the owner's address (where REG-5's
letter goes) and name, from identity's events."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.events.identity import AccountNameChanged, EmailChanged
from tests.integration.registration_fixtures import World, keys, pool, publish, publisher, registration, world

__all__ = ["keys", "pool", "publisher", "registration", "world"]  # fixtures


async def test_the_owners_new_address_and_name_reach_the_read_model(world: World) -> None:
    customer = await world.customer()
    new_email = f"moved.{customer.code.lower()}@example.org"
    await publish(
        world.bus,
        EmailChanged(
            account_id=customer.owner_id,
            login="owner",
            full_name="Olga Owner",
            old_email=customer.email,
            old_email_verified=True,
            new_email=new_email,
            changed_at=datetime.now(UTC),
        ),
    )
    await world.wait_for_row("SELECT 1 FROM accounts WHERE id = $1 AND email = $2", customer.owner_id, new_email)
    await publish(world.bus, AccountNameChanged(account_id=customer.owner_id, login="owner", full_name="Olga New"))
    await world.wait_for_row(
        "SELECT 1 FROM accounts WHERE id = $1 AND full_name = 'Olga New' AND email = $2", customer.owner_id, new_email
    )
