"""Read models of other services' events, so that registration never calls them.

identity: subscriber codes and names, owners' e-mail addresses and names (REG-5's letter), partners' names.
contracts: which registration numbers an ITS contract covers (REG-4). Each handler is an upsert or a
delete keyed by the event's ids, so a duplicate or late event leaves the same state.
"""

from __future__ import annotations

from services.registration import store
from shared.consumer import Subscription
from shared.db import Connection
from shared.events import Envelope, unwrap
from shared.events.contracts import ContractActivated, ContractExpired
from shared.events.identity import (
    AccountNameChanged,
    AccountRegistered,
    EmailChanged,
    EmailVerified,
    PartnerCreated,
    SubscriberCreated,
    SubscriberRenamed,
)

IDENTITY_QUEUE = "registration.identity"
CONTRACTS_QUEUE = "registration.contracts"


async def subscriber_created(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, SubscriberCreated)
    await store.save_subscriber(conn, event.subscriber_id, event.code, event.name, event.owner_account_id)


async def subscriber_renamed(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, SubscriberRenamed)
    await store.rename_subscriber(conn, event.subscriber_id, event.code, event.name)


async def account_registered(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, AccountRegistered)
    await store.save_account(conn, event.account_id, event.email, event.full_name, event.language)


async def email_verified(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, EmailVerified)
    await store.set_account_email(conn, event.account_id, event.email)


async def email_changed(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, EmailChanged)
    await store.set_account_email(conn, event.account_id, event.new_email)


async def account_name_changed(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, AccountNameChanged)
    await store.set_account_name(conn, event.account_id, event.full_name)


async def partner_created(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, PartnerCreated)
    await store.save_partner(conn, event.partner_id, event.name)


async def contract_activated(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, ContractActivated)
    await store.cover(conn, event.contract_id, event.registration_numbers, event.period_from, event.period_to)


async def contract_expired(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, ContractExpired)
    await store.uncover(conn, event.contract_id)


def subscriptions() -> list[Subscription]:
    return [
        Subscription(
            IDENTITY_QUEUE,
            {
                SubscriberCreated.TYPE: subscriber_created,
                SubscriberRenamed.TYPE: subscriber_renamed,
                AccountRegistered.TYPE: account_registered,
                EmailVerified.TYPE: email_verified,
                EmailChanged.TYPE: email_changed,
                AccountNameChanged.TYPE: account_name_changed,
                PartnerCreated.TYPE: partner_created,
            },
        ),
        Subscription(
            CONTRACTS_QUEUE, {ContractActivated.TYPE: contract_activated, ContractExpired.TYPE: contract_expired}
        ),
    ]
