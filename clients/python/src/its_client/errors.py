"""What can go wrong, as typed exceptions: every refusal of the portal is an `ItsError` carrying its problem+json
(RFC 9457) `type`, `title`, `detail` and `status`; the subclasses say what to do about it.

    ItsError
    ├── NotAuthenticated      401, no stored login, a refused password or refresh token: log in (again)
    ├── AccessRefused         403: not allowed (e.g. the configuration is not registered: `offer` says what to buy)
    ├── NotCovered            402: no ITS contract covers the current month (`offer`: what to buy, for which month)
    ├── NotFound              404, 410
    ├── Conflict              409 (e.g. several partners accompany the product: `partners` to choose from)
    ├── InvalidRequest        400, 413, 415, 422, with the field `errors`
    │   └── NoUpdateChain     422: no chain of releases leads there (`reachable` versions)
    ├── ServiceUnavailable    502, 503, 504, with `retry_after` (seconds) when the service says
    │   └── TooManyRequests   429
    ├── ConnectionFailed      no answer at all: refused, unreachable, TLS, timed out
    ├── AttachmentFailed      the question was sent, a file could not be attached to it (`cause`)
    └── DownloadFailed        a kit could not be downloaded (`FILE.part` kept to resume)
        ├── LinkExpired       the signed link was refused (403): ask for a new one
        └── KitCorrupt        the bytes' sha256 is not what the portal announced: refused, not kept as the kit

`error_from_answer(status, body, headers)` maps a service's answer to one of them, from what the services really
answer: the problem types of `https://its-portal.dev/problems/…`, the offer of UPD-4/SUP-1, identity's OAuth errors
(RFC 6749 §5.2) and the gateway's own answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

PROBLEM_BASE = "https://its-portal.dev/problems/"
OAUTH_ERROR = "https://www.rfc-editor.org/rfc/rfc6749#section-5.2"  # identity's token endpoint answers these


@dataclass(frozen=True)
class OfferedProduct:
    """A product that includes the configuration (REG-6), by its article."""

    article: str
    name: str
    edition: str


@dataclass(frozen=True)
class Offer:
    """What to do instead of the refused thing: `kind` "its-subscription" (UPD-4, ITS-7, SUP-1: an ITS contract for
    `month`, listing `registration_numbers`) or "register-product" (REG-6: buy and register one of `products`)."""

    kind: str
    how: str  # for a person
    month: str | None = None  # YYYY-MM, the vendor's current month
    registration_numbers: list[str] = field(default_factory=list)
    products: list[OfferedProduct] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Any) -> Offer | None:
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            return None
        products = [
            OfferedProduct(str(p.get("article", "")), str(p.get("name", "")), str(p.get("edition", "")))
            for p in data.get("products") or []
            if isinstance(p, dict)
        ]
        month = data.get("month")
        return cls(
            kind=data["kind"],
            how=str(data.get("how") or ""),
            month=str(month) if month else None,
            registration_numbers=[str(n) for n in data.get("registration_numbers") or []],
            products=products,
        )


@dataclass(frozen=True)
class FieldError:
    """One invalid field of a refused request (a 422's `errors`)."""

    field: str
    message: str
    type: str = ""


@dataclass(frozen=True)
class PartnerChoice:
    id: str
    name: str


class ItsError(Exception):
    """The portal refused, or could not be reached. `str(error)` is one line for a person."""

    def __init__(
        self,
        detail: str | None = None,
        *,
        type: str = "about:blank",  # the problem+json member's name
        title: str = "",
        status: int | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        self.type, self.title, self.detail, self.status = type, title, detail, status
        self.body: Mapping[str, Any] = body or {}
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self.type == OAUTH_ERROR and self.detail:
            return self.detail  # the error code (`invalid_grant`) is for programs: `title`
        parts = dict.fromkeys(p for p in (self.title, self.detail) if p)  # a title that repeats the detail: once
        return ": ".join(parts) or (f"HTTP {self.status}" if self.status else type(self).__name__)

    @property
    def reason(self) -> str:
        """The problem type's slug (`its-contract-required`), or the OAuth error code."""
        return self.type.removeprefix(PROBLEM_BASE) if self.type.startswith(PROBLEM_BASE) else self.title

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, Any]:
        """What `--json` prints for it: the problem's members as the portal sent them, and the kind of error."""
        return {
            "error": type(self).__name__,
            "type": self.type,
            "title": self.title,
            "detail": self.detail,
            "status": self.status,
            **{k: v for k, v in self.body.items() if k not in ("type", "title", "detail", "status")},
        }


class NotAuthenticated(ItsError):
    """Not logged in: no stored login, the password or the stored login refused, or the access token refused."""


class AccessRefused(ItsError):
    """403: the account may not do this (no subscriber, no ITS right, the configuration not registered...)."""

    def __init__(self, detail: str | None = None, *, offer: Offer | None = None, **problem: Any) -> None:
        self.offer = offer
        super().__init__(detail, **problem)


class NotCovered(ItsError):
    """402: no ITS contract (nor the free period) covers the current month (ITS-7, UPD-4, SUP-1); `offer` says what
    to buy and for which month."""

    def __init__(self, detail: str | None = None, *, offer: Offer | None = None, **problem: Any) -> None:
        self.offer = offer
        super().__init__(detail, **problem)


PaymentRequired = NotCovered  # the HTTP name of the same refusal


class NotFound(ItsError):
    """404 (or 410: withdrawn)."""


class Conflict(ItsError):
    """409: clashes with what exists; `partners`, when the product's partner must be chosen (SUP-1)."""

    def __init__(self, detail: str | None = None, *, partners: list[PartnerChoice] | None = None, **problem: Any):
        self.partners = partners or []
        super().__init__(detail, **problem)


class InvalidRequest(ItsError):
    """400, 413, 415, 422: the request must be corrected; `errors` name the fields."""

    def __init__(self, detail: str | None = None, *, errors: list[FieldError] | None = None, **problem: Any) -> None:
        self.errors = errors or []  # before the message is made of them
        super().__init__(detail, **problem)

    @property
    def message(self) -> str:
        fields = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        return f"{super().message} ({fields})" if fields else super().message


class NoUpdateChain(InvalidRequest):
    """422 to an update plan (UPD-5): no chain of releases leads from the version to the target."""

    def __init__(
        self,
        detail: str | None = None,
        *,
        reachable: list[str] | None = None,
        newest_reachable: str | None = None,
        **problem: Any,
    ) -> None:
        self.reachable, self.newest_reachable = reachable or [], newest_reachable
        super().__init__(detail, **problem)


class ServiceUnavailable(ItsError):
    """The service cannot answer now; try again after `retry_after` seconds (None: not said)."""

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None, **problem: Any) -> None:
        self.retry_after = retry_after
        super().__init__(detail, **problem)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "retry_after": self.retry_after}  # from the Retry-After header, too


class TooManyRequests(ServiceUnavailable):
    """429: asked too often (e.g. failed logins); wait `retry_after` seconds."""


class ConnectionFailed(ItsError):
    """No answer: the address is wrong or unreachable, the TLS certificate not trusted, or it timed out."""


class AttachmentFailed(ItsError):
    """The question was sent (`question_id`) but `file` could not be attached to it; `cause` says why."""

    def __init__(self, question_id: str, file: str, cause: ItsError) -> None:
        super().__init__(
            f"the question was sent ({question_id}) but {file} was not attached: {cause}",
            type=cause.type,
            title="",
            status=cause.status,
            body=cause.body,
        )
        self.question_id, self.file, self.cause = question_id, file, cause


class DownloadFailed(ItsError):
    """A kit's download cannot go on; the message says why and what is kept (`FILE.part`, to resume)."""


class LinkExpired(DownloadFailed):
    """The signed link was refused (403): expired (links last minutes), tampered with, or not this subscriber's."""


class KitCorrupt(DownloadFailed):
    """The downloaded bytes' sha256 is not what the portal announced: refused and deleted (never put in place, never
    resumed from)."""


class UpdateNotTrusted(ItsError):
    """The signed update metadata (TUF, `its_client.trust`) refused the update, or there is no trusted root to check it
    with. `refusal`: no-root; of the metadata: expired (a freeze attack), rollback, signature (a wrong key, too few
    keys), mix-and-match, invalid, unavailable (the system serves none); of a kit: unknown (the metadata does not list
    it), length, hash. Nothing refused is installed."""

    def __init__(self, refusal: str, detail: str) -> None:
        self.refusal = refusal
        super().__init__(detail, title="The signed update metadata refused the update", body={"refusal": refusal})


def error_from_answer(status: int, body: Any, headers: Mapping[str, str] | None = None) -> ItsError:
    """The exception for an error answer: `body` decoded JSON (problem+json, or an OAuth error) or text."""
    headers = headers or {}
    retry_after = _seconds(headers.get("Retry-After"))
    if isinstance(body, dict) and "error" in body and "title" not in body:  # RFC 6749 §5.2 (identity's /oauth/*)
        problem: dict[str, Any] = {"type": OAUTH_ERROR, "title": str(body["error"]), "status": status, "body": body}
        detail = str(body.get("error_description") or "") or None
        if status == 429:
            return TooManyRequests(detail, retry_after=retry_after, **problem)
        if body["error"] in ("invalid_grant", "invalid_client", "invalid_token"):
            return NotAuthenticated(detail, **problem)
        return InvalidRequest(detail, **problem)
    if not isinstance(body, dict):  # not a problem: a proxy's page, say
        text = body.strip()[:200] if isinstance(body, str) and "<" not in body else ""
        body = {"title": text or f"HTTP {status}"}
    problem = {
        "type": str(body.get("type") or "about:blank"),
        "title": str(body.get("title") or ""),
        "status": status,
        "body": body,
    }
    detail = str(body["detail"]) if body.get("detail") else None
    offer = Offer.from_json(body.get("offer"))
    if status == 401:
        return NotAuthenticated(detail, **problem)
    if status == 402:
        return NotCovered(detail, offer=offer, **problem)
    if status == 403:
        return AccessRefused(detail, offer=offer, **problem)
    if status in (404, 410):
        return NotFound(detail, **problem)
    if status == 409:
        partners = [
            PartnerChoice(str(p.get("id")), str(p.get("name", "")))
            for p in body.get("partners") or []
            if isinstance(p, dict)
        ]
        return Conflict(detail, partners=partners, **problem)
    if status == 422 and problem["type"] == PROBLEM_BASE + "no-update-chain":
        newest = body.get("newest_reachable")
        return NoUpdateChain(
            detail,
            errors=_field_errors(body),
            reachable=[str(v) for v in body.get("reachable") or []],
            newest_reachable=str(newest) if newest else None,
            **problem,
        )
    if status in (400, 413, 414, 415, 422):
        return InvalidRequest(detail, errors=_field_errors(body), **problem)
    if status == 429:
        return TooManyRequests(detail, retry_after=retry_after or _seconds(body.get("retry_after")), **problem)
    if status in (502, 503, 504):
        return ServiceUnavailable(detail, retry_after=retry_after, **problem)
    return ItsError(detail, **problem)


def decode_body(text: str, content_type: str | None) -> Any:
    """An answer's body: JSON when it says so (and is), else the text."""
    if "json" in (content_type or ""):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _field_errors(body: Mapping[str, Any]) -> list[FieldError]:
    return [
        FieldError(str(e.get("field") or "(body)"), str(e.get("message") or ""), str(e.get("type") or ""))
        for e in body.get("errors") or []
        if isinstance(e, dict)
    ]


def _seconds(value: Any) -> int | None:
    try:
        return max(0, int(str(value))) if value is not None else None
    except ValueError:
        return None  # an HTTP date: not worth parsing for a hint


def connection_problem(exc: BaseException) -> str:
    """One line on why no answer came (for `ConnectionFailed` and a download's retries)."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"the TLS connection to {exc.host}:{exc.port} failed: is its certificate's CA trusted (--ca-file)?"
    if isinstance(exc, aiohttp.ClientConnectorError):
        why = exc.os_error.strerror or exc.os_error
        return f"cannot reach {exc.host}:{exc.port} ({why}): is the address right and the system up?"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
