"""The services' refusals the portal says in its own words: each problem `type` (its last segment, the slug)
or field error `type` it knows, and the message key that says it. One typed place, so that no page spells a
service's slug itself; a refusal not listed here is said by `i18n.problem_message` (the service's words)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Slug(StrEnum):
    """Problem types (`…/problems/<slug>`) that a page answers in its own way."""

    OWNER_ONLY = "owner-only"  # identity: only the subscriber's owner (SUB-5)
    PIN_REJECTED = "pin-rejected"  # registration: a wrong PIN, with `tries_left` (REG-7)
    PIN_USED = "pin-used"  # registration: the PIN has registered a product (`yours`: to this subscriber)
    ITS_CONTRACT_REQUIRED = "its-contract-required"  # registration: REG-6
    REGISTERED_ELSEWHERE = "registered-to-another-subscriber"  # registration: REG-5
    IDEMPOTENCY_KEY_REUSED = "idempotency-key-reused"  # contracts: the form was sent before with other values
    REQUEST_IN_PROGRESS = "request-in-progress"  # contracts: the same form is being processed
    CONTRACT_NUMBER_TAKEN = "contract-number-taken"  # contracts: ITS-1
    RELEASE_NOT_DRAFT = "release-not-draft"  # updates: a published release is not written again
    KITS_MISSING = "kits-missing"  # updates: a release is published with its kits (`missing`)
    NO_UPDATE_CHAIN = "no-update-chain"  # updates: UPD-5, with `reachable` and `newest_reachable`
    FORM_NOT_DRAFT = "form-not-draft"  # updates: a published or withdrawn form version is not written again (DAT-2)
    FORM_VERSION_SPELLED = "form-version-spelled-otherwise"  # updates: the same numbers spelt as `version` (DAT-2)


@dataclass(frozen=True)
class Said:
    """Where a form says a refusal (a field's name, or `_form` above it) and with which message key."""

    field: str
    key: str


# Refusals a form says next to one field, whatever else the problem carries.
FORM_PROBLEMS: Mapping[str, Said] = {
    Slug.IDEMPOTENCY_KEY_REUSED: Said("_form", "partner.error.key_reused"),
    Slug.REQUEST_IN_PROGRESS: Said("_form", "partner.error.in_progress"),
    Slug.CONTRACT_NUMBER_TAKEN: Said("number", "partner.error.number_taken"),
    Slug.REGISTERED_ELSEWHERE: Said("registration_number", "partner.error.registered_elsewhere"),
    Slug.ITS_CONTRACT_REQUIRED: Said("registration_number", "software.contract_required"),
    Slug.RELEASE_NOT_DRAFT: Said("version", "operator.error.version.release-not-draft"),
    Slug.FORM_NOT_DRAFT: Said("version", "operator.error.version.form-not-draft"),
}

# The field error types (a 422's `errors[].type`) of contracts and registration that the partner cabinet says
# in its own words (`partner.error.<type>`, given the refused value as `number`).
PARTNER_FIELD_ERRORS: Mapping[str, str] = {
    kind: f"partner.error.{kind}"
    for kind in (
        "tin_not_digits",
        "tin_check_digit",
        "tin_length",
        "kpp_required",
        "kpp_not_allowed",
        "kpp_format",
        "month_format",
        "period_order",
        "period_ended",
        "period_too_long",
        "number_repeated",
        "number_unknown",
        "subscriber_unknown",
        "product_unknown",
        "purchase_date_future",
    )
}
