"""contracts' API as the portal uses it: a subscriber's contracts, coverage (ITS-7) and maintenance services
(CMS-1..7); a partner's own contracts, posted (ITS-1) and corrected (ITS-6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from pydantic import Field

from services.portal.clients.answers import Answer, Client, Listed, parsed


class Period(Answer):
    """contracts' PeriodOut: months, `YYYY-MM`."""

    mirrors = ("contracts.PeriodOut",)

    from_: str = Field(alias="from")
    to: str


class Organisation(Answer):
    mirrors = ("contracts.OrganisationOut",)

    name: str
    tin: str
    kpp: str | None = None


class Contract(Answer):
    """contracts' ContractOut."""

    mirrors = ("contracts.ContractOut",)

    id: str
    number: str
    state: str  # processing, active, expired (ITS-2)
    organisation: Organisation
    main_registration_number: str
    additional_registration_numbers: list[str]
    period: Period
    kind: str
    subscriber_code: str | None = None
    partner: str | None = None  # the accompanying partner's name (ITS-6)
    partner_id: str  # who posted it: offers name it, the maintenance form offers the subscriber's partners
    processing_on: str  # ITS-2: the business day it is (or was) processed
    activated_at: str | None = None
    expired_at: str | None = None


class Coverage(Answer):
    """contracts' CoverageOut (ITS-7): whether a product's updates are covered this month, and by what."""

    mirrors = ("contracts.CoverageOut",)

    registration_number: str
    month: str
    covered: bool
    by: str | None = None  # contract, free_period
    until: str | None = None
    free_period: Period | None = None


class WhyNotListed(Answer):
    """contracts' WhyOut (ITS-5)."""

    mirrors = ("contracts.WhyOut",)

    number: str
    reason: str
    message: str
    processing_until: str | None = None
    ended: str | None = None
    register_numbers: list[str] = []


class Reported(Answer):
    """contracts' ReportOut (ITS-6): the partner told."""

    mirrors = ("contracts.ReportOut",)

    partner: str


class Activation(Answer):
    """contracts' ActivationOut (CMS-1..7)."""

    mirrors = ("contracts.ActivationOut",)

    id: str
    configuration: str
    category: int
    period: Period
    registration_numbers: list[str]
    warning: str | None = None  # CMS-6
    partner: str | None = None  # CMS-7: notified
    covered_now: bool


class IssuedCodes(Answer):
    """contracts' CodesOut (CMS-4): activation codes, shown once (contracts keeps only their hashes)."""

    mirrors = ("contracts.CodesOut",)

    category: int
    months: int
    codes: list[str]


class Received(Answer):
    """contracts' Accepted (202, ITS-1): a contract received, processed on `processing_on` (ITS-2)."""

    mirrors = ("contracts.Accepted",)

    id: str
    state: str
    processing_on: str


class Contracts(Client):
    # ---- the subscriber's ----

    async def contracts(self, token: str) -> list[Contract]:
        return (await self.get(Listed[Contract], "/v1/contracts", token)).items

    async def coverage(self, token: str, registration_number: str) -> Coverage:
        query = urlencode({"registration_number": registration_number})
        return await self.get(Coverage, "/v1/coverage?" + query, token)

    async def why_not_listed(self, token: str, query: Mapping[str, str]) -> WhyNotListed:
        """ITS-5 (`query`: number, and registration_number when the user knows one)."""
        return await self.get(WhyNotListed, "/v1/contracts/why-not-listed?" + urlencode(query), token)

    async def report(self, token: str, contract_id: str, message: str) -> Reported:
        path = f"/v1/contracts/{contract_id}/report-organisation-error"
        return await self.send(Reported, "POST", path, token, {"message": message})

    async def maintenance_services(self, token: str) -> list[Activation]:
        return (await self.get(Listed[Activation], "/v1/maintenance-services", token)).items

    async def activate(self, token: str, body: Mapping[str, Any]) -> Activation:
        return await self.send(Activation, "POST", "/v1/maintenance-services/activate", token, body)

    # ---- a partner's (the cabinet's partner token) ----

    async def issue_codes(self, token: str, body: Mapping[str, Any]) -> IssuedCodes:
        """Operators: activation codes of a category for a number of months (CMS-2, CMS-5)."""
        return await self.send(IssuedCodes, "POST", "/v1/maintenance-services/codes", token, body)

    async def partner_contracts(self, token: str, query: Mapping[str, str]) -> Listed[Contract]:
        """A page of the partner's contracts (`query`: q, state, ending_within_days, configuration, sort, limit,
        cursor)."""
        return await self.get(Listed[Contract], "/v1/partner/contracts?" + urlencode(query), token)

    async def partner_contract(self, token: str, contract_id: str) -> Contract:
        return await self.get(Contract, f"/v1/partner/contracts/{contract_id}", token)

    async def post_contract(self, token: str, body: Mapping[str, Any], idempotency_key: str) -> Received:
        headers = {"Idempotency-Key": idempotency_key}
        answer = await self.service.call("POST", "/v1/contracts", token=token, json_body=body, headers=headers)
        return parsed(self.service.name, Received, answer)

    async def correct_organisation(self, token: str, contract_id: str, body: Mapping[str, Any]) -> None:
        await self.service.call("PATCH", f"/v1/contracts/{contract_id}/organisation", token=token, json_body=body)
