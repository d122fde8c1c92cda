"""The HTTP edge of updates' refusals: a use case's `Refused` as the problem+json it answered before the rules
had a value of their own (the same status, type, title and members)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from rules.refusal import Refused
from services.updates.access import DownloadDenied, NotHeld, RatesDenied
from services.updates.catalogue_models import (
    KitChanged,
    KitNotFound,
    KitsMissing,
    ReleaseNotDraft,
    ReleaseNotFound,
    ReleaseWithdrawnAlready,
)
from services.updates.release_pages import RELEASE_GONE
from services.updates.tuf_metadata import SigningUnavailable
from shared.problems import Forbidden, Problem, ServiceUnavailable, ValidationFailed, invalid, refusal_problem


class ConfigurationNotRegistered(Forbidden):
    slug, title = "configuration-not-registered", "The configuration is not registered to you"


class NoRegisteredProduct(Forbidden):
    slug, title = "no-registered-product", "Your subscriber has no registered product"


class ReleaseGone(Problem):
    """A withdrawn release asked for by a subscriber: 410, so a bookmarked page says why it went."""

    status, slug, title = 410, "release-withdrawn", "The release was withdrawn"


class NoUpdateChain(Problem):
    status, slug, title = 422, "no-update-chain", "No chain of releases leads there"


class MetadataUnsigned(ServiceUnavailable):
    """The signed update metadata cannot be changed by this process (its keys are missing): nothing was published."""

    slug, title = "update-metadata-unsigned", "The signed update metadata cannot be updated just now"


# What a client refused by a missing signing key is told to wait: the keys come with a redeployment.
UNSIGNED_RETRY_AFTER = 300
DOWNLOAD_REFUSED = "You cannot download this kit"
RATES_REFUSED = "You cannot receive exchange rates"

# The refusals whose problem has a title and type of its own; its details are the problem's members.
PROBLEMS: dict[str, type[Problem]] = {
    "release-not-found": ReleaseNotFound,
    "kit-not-found": KitNotFound,
    "release-not-draft": ReleaseNotDraft,
    "kits-missing": KitsMissing,
    "release-withdrawn": ReleaseWithdrawnAlready,
    "kit-changed": KitChanged,
    "no-update-chain": NoUpdateChain,
    "no-registered-product": NoRegisteredProduct,
    RELEASE_GONE: ReleaseGone,
}


def problem(refused: Refused, detail: str | None = None) -> Problem:
    """The problem of a refusal. Invalid requests: one `errors` entry per refusal, `detail` as given (None: no
    detail member). UPD-4: status by kind (402, 403), the reason as type and member, the offer (DownloadRefused).
    """
    first = refused.first
    if isinstance(refused, NotHeld):
        return ConfigurationNotRegistered(first.message, **first.details)
    if isinstance(refused, DownloadDenied):
        return refusal_problem(refused, title=DOWNLOAD_REFUSED)
    if isinstance(refused, RatesDenied):
        return refusal_problem(refused, title=RATES_REFUSED)
    if (cls := PROBLEMS.get(first.reason)) is not None:
        return cls(first.message or None, **first.details)
    if first.kind == "invalid":
        errors: list[dict[str, Any]] = [
            invalid(r.field or "body", r.message, r.reason, **r.details) for r in refused.refusals
        ]
        return ValidationFailed(errors, detail)
    return refusal_problem(refused)


@contextlib.contextmanager
def refusals_answered(detail: str | None = None) -> Iterator[None]:
    """Around a use case's call in a handler: its refusal answered as problem+json."""
    try:
        yield
    except Refused as refused:
        raise problem(refused, detail) from None
    except SigningUnavailable as exc:
        retry = UNSIGNED_RETRY_AFTER
        raise MetadataUnsigned(str(exc), headers={"Retry-After": str(retry)}, retry_after=retry) from None
