"""What contracts' APIs share: the fields requests name a product or contract by, and a contract as answered to
subscribers (ITS-3) and to its partner alike."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.contracts import domain, read_models, store

RegistrationNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6,20}$")]
ContractNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=domain.CONTRACT_NUMBER.pattern)]


class PeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str


class OrganisationOut(BaseModel):
    name: str
    tin: str
    kpp: str | None


class ContractOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: uuid.UUID
    number: str
    state: Literal["processing", "active", "expired"]
    organisation: OrganisationOut
    main_registration_number: str
    additional_registration_numbers: list[str]
    period: PeriodOut
    kind: str
    subscriber_code: str | None
    partner: str | None  # the accompanying partner's name (ITS-6)
    partner_id: uuid.UUID = Field(
        description="The accompanying partner (who posted it), as identity's partner directory names it"
    )
    received_at: datetime
    processing_on: date  # ITS-2: the business day it is (or was) processed
    activated_at: datetime | None
    expired_at: datetime | None


def contract_out(c: store.Contract, partners: dict[uuid.UUID, read_models.Partner]) -> ContractOut:
    partner = partners.get(c.partner_id)
    return ContractOut(
        id=c.id,
        number=c.number,
        state=c.state,
        organisation=OrganisationOut(name=c.org_name, tin=c.tin, kpp=c.kpp),
        main_registration_number=c.main_number,
        additional_registration_numbers=c.additional_numbers,
        period=PeriodOut(from_=c.period_from, to=c.period_to),
        kind=c.kind,
        subscriber_code=c.subscriber_code,
        partner=partner.name if partner else None,
        partner_id=c.partner_id,
        received_at=c.received_at,
        processing_on=c.processing_on,
        activated_at=c.activated_at,
        expired_at=c.expired_at,
    )
