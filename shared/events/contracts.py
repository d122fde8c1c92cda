"""Events published by contracts (`contracts.*`). Registration follows them for REG-4 (coverage),
updates for UPD-4 (covered months), notifications for the partners' e-mails.

Periods are whole months, `YYYY-MM`, both ends included (ITS-1).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from shared.events import Event

YearMonth = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class Organisation(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    tin: str
    kpp: str | None = None


class ContractEvent(Event):
    """What every event about one contract says of it."""

    contract_id: uuid.UUID
    number: str
    partner_id: uuid.UUID
    subscriber_code: str | None = None
    organisation: Organisation
    main_registration_number: str
    additional_registration_numbers: list[str] = []
    period_from: YearMonth
    period_to: YearMonth
    kind: str
    # For the partner's e-mail (notifications); empty when contracts has not learnt the partner yet.
    partner_name: str = ""
    partner_email: str = ""

    @property
    def registration_numbers(self) -> list[str]:
        return [self.main_registration_number, *self.additional_registration_numbers]


class ContractReceived(ContractEvent):
    """ITS-2: posted by a partner; processed at the start of `processing_on` (the next business day)."""

    TYPE = "contracts.contract.received"

    received_at: datetime
    processing_on: date


class ContractActivated(ContractEvent):
    """ITS-2: processed on the next business day; its numbers are covered from now on."""

    TYPE = "contracts.contract.activated"

    activated_at: datetime


class ContractExpired(Event):
    """The contract's period ended: its numbers are no longer covered by it."""

    TYPE = "contracts.contract.expired"

    contract_id: uuid.UUID
    number: str
    period_to: YearMonth
    expired_at: datetime


class OrganisationCorrected(ContractEvent):
    """ITS-6: the accompanying partner corrected the organisation's name, TIN or KPP."""

    TYPE = "contracts.contract.organisation_corrected"


class OrganisationErrorReported(Event):
    """ITS-6: a subscriber tells the accompanying partner that the organisation data is wrong."""

    TYPE = "contracts.organisation_error.reported"

    report_id: uuid.UUID
    contract_id: uuid.UUID
    number: str
    organisation: Organisation
    partner_id: uuid.UUID
    partner_name: str
    partner_email: str
    subscriber_code: str
    subscriber_name: str
    message: str
    reported_at: datetime


class MaintenanceActivated(Event):
    """CMS-1..7: a configuration maintenance service activated for a subscriber's configuration."""

    TYPE = "contracts.maintenance.activated"

    activation_id: uuid.UUID
    subscriber_id: uuid.UUID
    subscriber_code: str
    subscriber_name: str
    configuration: str
    category: Literal[1, 2]
    period_from: YearMonth
    period_to: YearMonth
    registration_numbers: list[str]  # the subscriber's products with this configuration (CMS-3)
    warning: str | None = None  # CMS-6: no valid ITS contract over the whole period
    # CMS-7: the accompanying partner, notified automatically; None until chosen.
    partner_id: uuid.UUID | None = None
    partner_name: str | None = None
    partner_email: str | None = None
