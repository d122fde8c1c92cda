"""contracts' records as the events it announces: the one place that maps a stored contract, report or
activation to its outbox event, for every use case and job that emits one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from services.contracts import maintenance_store, read_models, store
from shared.events.contracts import (
    ContractActivated,
    ContractEvent,
    ContractExpired,
    ContractReceived,
    MaintenanceActivated,
    Organisation,
    OrganisationCorrected,
    OrganisationErrorReported,
)

C = TypeVar("C", bound=ContractEvent)


def organisation(c: store.Contract) -> Organisation:
    return Organisation(name=c.org_name, tin=c.tin, kpp=c.kpp)


def _contract_event(event: type[C], c: store.Contract, partner: read_models.Partner | None, **extra: Any) -> C:
    """`event` about contract `c`, with the partner's name and address for its e-mail."""
    return event(
        contract_id=c.id,
        number=c.number,
        partner_id=c.partner_id,
        subscriber_code=c.subscriber_code,
        organisation=organisation(c),
        main_registration_number=c.main_number,
        additional_registration_numbers=c.additional_numbers,
        period_from=c.period_from,
        period_to=c.period_to,
        kind=c.kind,
        partner_name=partner.name if partner else "",
        partner_email=partner.contact_email if partner else "",
        **extra,
    )


def contract_received(c: store.Contract) -> ContractReceived:
    """ITS-2. No e-mail is sent on receipt: the partner's name and address are left out."""
    return _contract_event(ContractReceived, c, None, received_at=c.received_at, processing_on=c.processing_on)


def contract_activated(c: store.Contract, partner: read_models.Partner | None, at: datetime) -> ContractActivated:
    return _contract_event(ContractActivated, c, partner, activated_at=at)


def contract_expired(c: store.Contract, at: datetime) -> ContractExpired:
    return ContractExpired(contract_id=c.id, number=c.number, period_to=c.period_to, expired_at=at)


def organisation_corrected(c: store.Contract, partner: read_models.Partner | None) -> OrganisationCorrected:
    return _contract_event(OrganisationCorrected, c, partner)


def organisation_error_reported(
    report_id: uuid.UUID,
    c: store.Contract,
    partner: read_models.Partner,
    *,
    subscriber_code: str,
    subscriber_name: str,
    message: str,
    at: datetime,
) -> OrganisationErrorReported:
    return OrganisationErrorReported(
        report_id=report_id,
        contract_id=c.id,
        number=c.number,
        organisation=organisation(c),
        partner_id=partner.id,
        partner_name=partner.name,
        partner_email=partner.contact_email,
        subscriber_code=subscriber_code,
        subscriber_name=subscriber_name,
        message=message,
        reported_at=at,
    )


def maintenance_activated(
    a: maintenance_store.Activation,
    *,
    registration_numbers: list[str],
    warning: str | None,
    subscriber_code: str,
    subscriber_name: str,
    partner: read_models.Partner | None,
) -> MaintenanceActivated:
    """CMS-7: with the accompanying partner's address, so that notifications e-mails it."""
    return MaintenanceActivated(
        activation_id=a.id,
        subscriber_id=a.subscriber_id,
        subscriber_code=subscriber_code,
        subscriber_name=subscriber_name,
        configuration=a.configuration,
        category=1 if a.category == 1 else 2,
        period_from=a.period_from,
        period_to=a.period_to,
        registration_numbers=registration_numbers,
        warning=warning,
        partner_id=partner.id if partner else None,
        partner_name=partner.name if partner else None,
        partner_email=partner.contact_email if partner else None,
    )
