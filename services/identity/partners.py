"""Partners (franchisees): operators make and deactivate them; a partner sees only itself, and its admins (or an
operator) manage its staff and API clients."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from rules.refusal import Refusal, Refused
from services.identity import events, partners_store
from services.identity.lists import Page, Window
from services.identity.partners_store import Partner, PartnerUser
from shared.clock import Clock
from shared.db import Connection, Pool
from shared.outbox import Outbox

NO_SUCH_PARTNER = Refusal("no-such-partner", "no such partner", "not-found")
NO_SUCH_STAFF = Refusal("no-such-staff", "no such person on this partner's staff", "not-found")


@dataclass(frozen=True)
class PartnerCaller:
    """Who asks about a partner: an operator, or an account or system acting for a partner."""

    account_id: uuid.UUID
    operator: bool
    partner_id: uuid.UUID | None  # the partner a partner's token acts for


def visible_partner(caller: PartnerCaller, partner_id: uuid.UUID) -> uuid.UUID:
    """Operators see every partner; a partner only itself (others: the same "no such partner" as a missing one)."""
    if caller.operator or caller.partner_id == partner_id:
        return partner_id
    raise Refused(NO_SUCH_PARTNER)


async def administered_partner(conn: Connection, caller: PartnerCaller, partner_id: uuid.UUID) -> Partner:
    """The partner, if the caller is an operator or one of its admins."""
    visible_partner(caller, partner_id)
    if not caller.operator and not await partners_store.partner_admin(conn, partner_id, caller.account_id):
        raise Refused(
            Refusal("partner-admins-only", "only operators and the partner's admins can do this", "forbidden")
        )
    partner = await partners_store.partner(conn, partner_id)
    if partner is None:
        raise Refused(NO_SUCH_PARTNER)
    return partner


async def create_partner(
    pool: Pool, outbox: Outbox, now: datetime, *, name: str, tin: str, city: str, contact_email: str
) -> Partner:
    partner = Partner(id=uuid.uuid4(), name=name, tin=tin, city=city, contact_email=contact_email, created_at=now)
    async with pool.acquire() as conn, conn.transaction():
        try:
            await partners_store.insert_partner(conn, partner)
        except partners_store.TinTaken:
            raise Refused(Refusal("tin-taken", "a partner with this TIN exists", "conflict", "tin")) from None
        await outbox.add(conn, events.partner_created(partner))
    return partner


async def partners_page(pool: Pool, window: Window, *, deactivated: bool | None) -> Page[Partner]:
    """A page of the partners, for operators (the route allows only them)."""
    async with pool.acquire() as conn:
        return await partners_store.partners_page(conn, window, deactivated=deactivated)


async def partners_of_account(pool: Pool, account_id: uuid.UUID) -> list[tuple[Partner, bool]]:
    """The partners whose staff the account is on, each with whether it administers them."""
    async with pool.acquire() as conn:
        return await partners_store.partners_of_account(conn, account_id)


async def partner(pool: Pool, caller: PartnerCaller, partner_id: uuid.UUID) -> Partner:
    visible_partner(caller, partner_id)
    async with pool.acquire() as conn:
        found = await partners_store.partner(conn, partner_id)
    if found is None:
        raise Refused(NO_SUCH_PARTNER)
    return found


async def set_partner_active(
    pool: Pool, outbox: Outbox, clock: Clock, partner_id: uuid.UUID, *, active: bool
) -> Partner:
    """Deactivated, none of its clients or staff get or use tokens. Idempotent: a partner in the state asked for
    stays as it is, and nothing is announced."""
    async with pool.acquire() as conn, conn.transaction():
        found = await partners_store.partner(conn, partner_id, lock=True)
        if found is None:
            raise Refused(NO_SUCH_PARTNER)
        if (found.deactivated_at is None) == active:
            return found
        now = clock.now()  # after the lock: tokens issued before it are refused (shared.revocations)
        changed = await partners_store.set_partner_deactivated(conn, partner_id, None if active else now)
        await outbox.add(conn, events.partner_activity(partner_id, active=active, at=now))
    return changed


# ---- the partner's staff (invited like a subscriber's users: services.identity.invitations) ----------------


async def staff(pool: Pool, caller: PartnerCaller, partner_id: uuid.UUID, window: Window) -> Page[PartnerUser]:
    visible_partner(caller, partner_id)
    async with pool.acquire() as conn:
        return await partners_store.partner_users(conn, partner_id, window)


async def staff_member(pool: Pool, caller: PartnerCaller, partner_id: uuid.UUID, account_id: uuid.UUID) -> PartnerUser:
    visible_partner(caller, partner_id)
    async with pool.acquire() as conn:
        found = await partners_store.partner_user(conn, partner_id, account_id)
    if found is None:
        raise Refused(NO_SUCH_STAFF)
    return found


async def remove_staff(
    pool: Pool, outbox: Outbox, clock: Clock, caller: PartnerCaller, partner_id: uuid.UUID, account_id: uuid.UUID
) -> None:
    """The person's partner tokens are refused at once, everywhere (shared.revocations)."""
    async with pool.acquire() as conn, conn.transaction():
        found = await administered_partner(conn, caller, partner_id)
        if account_id == caller.account_id:
            raise Refused(
                Refusal(
                    "staff-self-removal", "you cannot remove yourself; another admin or an operator can", "conflict"
                )
            )
        if not await partners_store.remove_partner_member(conn, found.id, account_id):
            raise Refused(NO_SUCH_STAFF)
        removed_at = clock.now()  # after the row lock the removal holds (shared.revocations)
        await outbox.add(conn, events.partner_staff_removed(found.id, account_id, removed_at))
