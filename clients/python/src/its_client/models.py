"""What the portal answers, as typed values: the account (ACC-3), the support status (MON-1), the update plan (UPD-5)
and a question sent to the consulting line (SUP-1). Each is read from the service's JSON by `from_json`, which keeps
only what a program needs; `raw` keeps the whole answer (what `--json` prints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from its_client.errors import Offer


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _date(value: Any) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def _datetime(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# ---- ACC-3 ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """The account logged in: a client program shows its name from then on (ACC-3)."""

    id: str
    login: str
    email: str
    full_name: str | None
    language: str

    @property
    def name(self) -> str:
        """The full name, or the login where none was given (ACC-1: the full name is optional)."""
        return self.full_name or self.login

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Account:
        return cls(
            id=str(data["id"]),
            login=str(data["login"]),
            email=str(data.get("email") or ""),
            full_name=_str(data.get("full_name")),
            language=str(data.get("language") or "en"),
        )


@dataclass(frozen=True)
class RegisteredProduct:
    """A software product registered to the subscriber (REG-1): the number a program asks about, what it includes."""

    registration_number: str
    name: str
    edition: str  # BASIC | PROF | CORP | SPECIAL
    configurations: list[str]
    state: str  # pending (REG-3: access begins at `active_from`) | active
    active_from: datetime | None
    purchase_date: date | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegisteredProduct:
        product = data.get("product") or {}
        return cls(
            registration_number=str(data["registration_number"]),
            name=str(product.get("name", "")),
            edition=str(product.get("edition", "")),
            configurations=[str(c) for c in _list(product.get("configurations"))],
            state=str(data.get("state", "")),
            active_from=_datetime(data.get("active_from")),
            purchase_date=_date(data.get("purchase_date")),
        )


# ---- MON-1 ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: str  # YYYY-MM, the first month
    end: str  # YYYY-MM, the last month

    @classmethod
    def from_json(cls, data: Any) -> Period:
        data = data if isinstance(data, dict) else {}
        return cls(str(data.get("from", "")), str(data.get("to", "")))


@dataclass(frozen=True)
class StatusContract:
    number: str
    period: Period
    partner: str | None


@dataclass(frozen=True)
class Contact:
    """The partner to contact about the product's support."""

    name: str
    email: str


@dataclass(frozen=True)
class SupportStatus:
    """MON-1: one status per condition, None where the condition does not apply, and the overall verdict."""

    registration: str  # REGISTERED | NOT_REGISTERED
    overall: str  # OK | WARNING | NOT_COMPLIED
    configuration: str | None  # INCLUDED | NOT_INCLUDED
    its_contract: str | None  # OK | WARNING (ends within 30 days) | NO_CONTRACT
    its_covered_by: str | None  # contract | free_period
    its_until: date | None  # the last covered day
    maintenance_service: str | None  # OK | WARNING | NO_ACTIVATIONS
    maintenance_until: date | None
    contracts: list[StatusContract]
    activations: list[tuple[str, Period]]  # (configuration, period)
    partner: Contact | None
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SupportStatus:
        partner = data.get("partner")
        return cls(
            registration=str(data["registration"]),
            overall=str(data["overall"]),
            configuration=_str(data.get("configuration")),
            its_contract=_str(data.get("its_contract")),
            its_covered_by=_str(data.get("its_covered_by")),
            its_until=_date(data.get("its_until")),
            maintenance_service=_str(data.get("maintenance_service")),
            maintenance_until=_date(data.get("maintenance_until")),
            contracts=[
                StatusContract(str(c["number"]), Period.from_json(c.get("period")), _str(c.get("partner")))
                for c in _list(data.get("contracts"))
            ],
            activations=[
                (str(a.get("configuration", "")), Period.from_json(a.get("period")))
                for a in _list(data.get("activations"))
            ],
            partner=Contact(str(partner.get("name", "")), str(partner.get("email", "")))
            if isinstance(partner, dict)
            else None,
            raw=data,
        )


# ---- UPD-5 ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kit:
    """A distribution kit of a step or of the platform release; `url` is a signed link (valid minutes), None when
    this user may not download it."""

    id: str
    name: str
    kind: str  # update | full | platform | other
    size: int
    sha256: str
    os: str | None = None
    arch: str | None = None
    url: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Kit:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            kind=str(data.get("kind") or "other"),
            size=int(data["size"]),
            sha256=str(data["sha256"]).lower(),
            os=_str(data.get("os")),
            arch=_str(data.get("arch")),
            url=_str(data.get("url")),
        )

    @property
    def installs(self) -> bool:
        """What a program applies to update (the update package, or another file); a `full` kit is for new
        installations: the portal's `total_size` leaves it out as well."""
        return self.kind != "full"


@dataclass(frozen=True)
class Step:
    """One release of the chain: from `from_version` to `version`."""

    version: str
    from_version: str
    release_date: date | None
    min_platform: str | None
    prerelease: bool
    page: str  # the release's page in the updates API
    entitled: bool
    kits: list[Kit]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        return cls(
            version=str(data["version"]),
            from_version=str(data["from_version"]),
            release_date=_date(data.get("release_date")),
            min_platform=_str(data.get("min_platform")),
            prerelease=bool(data.get("prerelease")),
            page=str(data.get("page") or ""),
            entitled=bool(data.get("entitled")),
            kits=[Kit.from_json(k) for k in _list(data.get("kits"))],
        )


@dataclass(frozen=True)
class PlatformAdvice:
    """The platform the chain needs: `release` to install first (None: none needed), with its kits for this
    system (os, arch)."""

    current: str
    required: str | None
    update_needed: bool
    recommended: str | None
    release: str | None
    kits: list[Kit]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlatformAdvice:
        return cls(
            current=str(data["current"]),
            required=_str(data.get("required")),
            update_needed=bool(data.get("update_needed")),
            recommended=_str(data.get("recommended")),
            release=_str(data.get("release")),
            kits=[Kit.from_json(k) for k in _list(data.get("kits"))],
        )


@dataclass(frozen=True)
class DownloadStatus:
    """UPD-4 for this user: allowed, or why not (`reason`, `detail`) and what to do (`offer`)."""

    allowed: bool
    reason: str | None = None
    detail: str | None = None
    offer: Offer | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DownloadStatus:
        return cls(
            allowed=bool(data.get("allowed")),
            reason=_str(data.get("reason")),
            detail=_str(data.get("detail")),
            offer=Offer.from_json(data.get("offer")),
        )


@dataclass(frozen=True)
class UpdatePlan:
    """UPD-5: the shortest chain of releases from `current` to `target`, the platform it needs, what it weighs."""

    configuration: str
    current: str
    target: str
    up_to_date: bool
    steps: list[Step]
    platform: PlatformAdvice
    total_size: int  # bytes: the steps' update packages and the platform's kits
    support_end: str | None  # YYYY-MM, the last covered month; None when no contract is needed or none covers
    download: DownloadStatus
    link_expires_at: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UpdatePlan:
        return cls(
            configuration=str(data["configuration"]),
            current=str(data["current"]),
            target=str(data["target"]),
            up_to_date=bool(data.get("up_to_date")),
            steps=[Step.from_json(s) for s in _list(data.get("steps"))],
            platform=PlatformAdvice.from_json(data["platform"]),
            total_size=int(data.get("total_size") or 0),
            support_end=_str(data.get("support_end")),
            download=DownloadStatus.from_json(data.get("download") or {}),
            link_expires_at=_datetime(data.get("link_expires_at")),
            raw=data,
        )


# ---- SUP-1 ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    size: int
    sha256: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attachment:
        return cls(str(data["name"]), str(data["content_type"]), int(data["size"]), str(data["sha256"]))


@dataclass(frozen=True)
class RoutedTo:
    """Who answers: the partner accompanying the product's ITS contract, or the vendor's consulting line."""

    kind: str  # partner | vendor
    id: str | None
    name: str


@dataclass(frozen=True)
class Question:
    """A question sent to the consulting line (SUP-1), with the files attached to it."""

    id: str
    kind: str  # consulting | feedback
    state: str
    subject: str
    subscriber_code: str
    registration_number: str | None
    configuration: str | None
    version: str | None
    platform_version: str | None
    routed_to: RoutedTo
    asked_at: datetime | None
    first_response_due: datetime | None
    attachments: list[Attachment] = field(default_factory=list)
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Question:
        routed = data.get("routed_to") or {}
        return cls(
            id=str(data["id"]),
            kind=str(data["kind"]),
            state=str(data["state"]),
            subject=str(data["subject"]),
            subscriber_code=str(data.get("subscriber_code") or ""),
            registration_number=_str(data.get("registration_number")),
            configuration=_str(data.get("configuration")),
            version=_str(data.get("version")),
            platform_version=_str(data.get("platform_version")),
            routed_to=RoutedTo(str(routed.get("kind", "")), _str(routed.get("id")), str(routed.get("name", ""))),
            asked_at=_datetime(data.get("asked_at")),
            first_response_due=_datetime(data.get("first_response_due")),
            raw=data,
        )
