"""Events published by contracts (`contracts.*`). Registration follows them for REG-4 (coverage).

Periods are whole months, `YYYY-MM`, both ends included (ITS-1).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from shared.events import Event

YearMonth = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class Organisation(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    tin: str
    kpp: str | None = None


class ContractActivated(Event):
    """ITS-2: a partner's contract processed on the next business day; its numbers are covered from now on."""

    TYPE = "contracts.contract.activated"

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
    activated_at: datetime

    @property
    def registration_numbers(self) -> list[str]:
        return [self.main_registration_number, *self.additional_registration_numbers]


class ContractExpired(Event):
    """The contract's period ended (or it was cancelled): its numbers are no longer covered by it."""

    TYPE = "contracts.contract.expired"

    contract_id: uuid.UUID
    number: str
    period_to: YearMonth
    expired_at: datetime
