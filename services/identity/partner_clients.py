"""A partner's systems' API clients: made and revoked by operators and the partner's admins; a client logs in with
OAuth 2.0 client_credentials (services.identity.grants)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from rules.refusal import Refusal, Refused
from services.identity import events, partners_store
from services.identity.partners import PartnerCaller, administered_partner
from services.identity.partners_store import PartnerClient
from shared.clock import Clock
from shared.db import Pool
from shared.outbox import Outbox


def secret_hash(secret: str) -> bytes:
    """Client secrets are 256 random bits: a plain SHA-256 is enough (no dictionary to guess from)."""
    return hashlib.sha256(secret.encode()).digest()


async def create_client(
    pool: Pool, outbox: Outbox, now: datetime, caller: PartnerCaller, partner_id: uuid.UUID, name: str
) -> tuple[PartnerClient, str]:
    """The client, and its secret: shown once, only its hash is kept."""
    secret = secrets.token_urlsafe(32)
    async with pool.acquire() as conn, conn.transaction():
        partner = await administered_partner(conn, caller, partner_id)
        client = PartnerClient(id=uuid.uuid4(), partner_id=partner.id, name=name, created_at=now, revoked_at=None)
        await partners_store.insert_partner_client(conn, client, secret_hash(secret))
        await outbox.add(conn, events.partner_client_created(client))
    return client, secret


async def clients(pool: Pool, caller: PartnerCaller, partner_id: uuid.UUID) -> list[PartnerClient]:
    """The partner's clients, without their secrets."""
    async with pool.acquire() as conn:
        partner = await administered_partner(conn, caller, partner_id)
        return await partners_store.partner_clients(conn, partner.id)


async def revoke_client(
    pool: Pool, outbox: Outbox, clock: Clock, caller: PartnerCaller, partner_id: uuid.UUID, client_id: uuid.UUID
) -> PartnerClient:
    """Its secret gives no new tokens, and every service refuses its tokens at once (shared.revocations); revoking
    it again changes nothing."""
    async with pool.acquire() as conn, conn.transaction():
        partner = await administered_partner(conn, caller, partner_id)
        locked = await partners_store.lock_partner_client(conn, partner.id, client_id)
        if locked is None:
            raise Refused(Refusal("no-such-client", "no such client", "not-found"))
        if locked.revoked_at is not None:
            return locked
        now = clock.now()  # after the lock (shared.revocations)
        client = await partners_store.revoke_partner_client(conn, client_id, now)
        await outbox.add(conn, events.partner_client_revoked(partner.id, client_id, now))
    return client
