"""Read models of identity's and registration's events, so that notifications knows, without calling them,
who owns which subscriber (SUB-1), the owner's address, name and language, and which configurations each
subscriber holds from when (REG-3, REG-6): the recipients of release news (UPD-3); and the partners with their staff
and admins: the recipients of support's letters (SUP-1).

Each handler is an upsert keyed by the event's ids and guarded by the event's time (store.py), so a
duplicate, a redelivery or an event that overtakes another leaves the state of the newest one.
"""

from __future__ import annotations

from datetime import datetime

from services.notifications import partners_store, store
from services.notifications.languages import unwrap_in_our_languages
from shared.db import Connection
from shared.events import Envelope, unwrap
from shared.events.identity import (
    AccountNameChanged,
    AccountRegistered,
    EmailChanged,
    EmailVerified,
    PartnerCreated,
    PartnerStaffJoined,
    PartnerStaffRemoved,
    SubscriberCreated,
    SubscriberRenamed,
)
from shared.events.registration import ProductActivated, ProductRegistered, ProductTransferred


async def account_registered(conn: Connection, envelope: Envelope) -> None:
    event = unwrap_in_our_languages(envelope, AccountRegistered)  # a language we have no templates for: English
    await store.save_account(
        conn,
        event.account_id,
        login=event.login,
        email=event.email,
        full_name=event.full_name,
        language=event.language,
        at=envelope.occurred_at,
    )


async def email_verified(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, EmailVerified)
    await store.set_account_email(conn, event.account_id, event.email, envelope.occurred_at)


async def email_changed(conn: Connection, envelope: Envelope) -> None:
    """ACC-4: the new address, confirmed through its link, is the account's from then on."""
    event = unwrap_in_our_languages(envelope, EmailChanged)
    await store.set_account_email(conn, event.account_id, event.new_email, envelope.occurred_at)


async def account_name_changed(conn: Connection, envelope: Envelope) -> None:
    """ACC-4: the holder's new full name (with the login and language, a whole profile)."""
    event = unwrap_in_our_languages(envelope, AccountNameChanged)
    await store.save_profile(
        conn,
        event.account_id,
        login=event.login,
        full_name=event.full_name,
        language=event.language,
        at=envelope.occurred_at,
    )


async def subscriber_created(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, SubscriberCreated)
    await store.save_subscriber(
        conn,
        event.subscriber_id,
        code=event.code,
        name=event.name,
        owner_account_id=event.owner_account_id,
        at=envelope.occurred_at,
    )


async def subscriber_renamed(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, SubscriberRenamed)
    await store.rename_subscriber(conn, event.subscriber_id, code=event.code, name=event.name, at=envelope.occurred_at)


async def partner_created(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, PartnerCreated)
    await partners_store.save_partner(conn, event.partner_id, name=event.name, contact_email=event.contact_email)


async def partner_staff_joined(conn: Connection, envelope: Envelope) -> None:
    """As of the joining itself (a republished join keeps its time, so a later removal still holds)."""
    event = unwrap(envelope, PartnerStaffJoined)
    await partners_store.set_staff(
        conn, event.partner_id, event.account_id, member=True, is_admin=event.admin, at=event.joined_at
    )


async def partner_staff_removed(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, PartnerStaffRemoved)
    await partners_store.set_staff(
        conn, event.partner_id, event.account_id, member=False, is_admin=False, at=event.removed_at
    )


async def product_registered(conn: Connection, envelope: Envelope) -> None:
    """REG-2/REG-5: the number is the subscriber's; it counts from `active_from` (REG-3: 15 minutes later for
    a self-registration), so a release published before then does not reach the owner."""
    event = unwrap(envelope, ProductRegistered)
    await _save_product(conn, envelope, event, event.active_from)


async def product_activated(conn: Connection, envelope: Envelope) -> None:
    """Active from now at the latest, whatever `active_from` said when it was registered."""
    event = unwrap(envelope, ProductActivated)
    await _save_product(conn, envelope, event, min(event.active_from, envelope.occurred_at))


async def product_transferred(conn: Connection, envelope: Envelope) -> None:
    """An operator moved the number: the fields describe the new subscriber."""
    event = unwrap(envelope, ProductTransferred)
    await _save_product(conn, envelope, event, event.active_from)


async def _save_product(
    conn: Connection,
    envelope: Envelope,
    event: ProductRegistered | ProductActivated | ProductTransferred,
    active_from: datetime,
) -> None:
    await store.save_registered_product(
        conn,
        event.registration_number,
        subscriber_id=event.subscriber_id,
        configurations=event.configurations,
        active_from=active_from,
        at=envelope.occurred_at,
    )
