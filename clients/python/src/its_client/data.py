"""The data a program receives through internet support besides releases: the Bank of Russia's exchange rates of
every day since 1991 (DAT-1, updates' `GET /v1/rates`) and the regulated reporting forms newer than the ones it holds
(DAT-2, `POST /v1/forms/updates`), as typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from its_client.models import Kit


@dataclass(frozen=True)
class ExchangeRate:
    """`nominal` units of `currency` cost `value` roubles on `day` (a weekend or a holiday carries the rate last set
    before it)."""

    day: date
    currency: str
    nominal: int
    value: Decimal

    @property
    def per_unit(self) -> Decimal:
        """The roubles one unit costs (the bank quotes some currencies per 10 or 100 units)."""
        return self.value / self.nominal


@dataclass(frozen=True)
class ExchangeRates:
    """Every day of the period for each currency asked, in day order; `etag` is what to send next time (`rates(...,
    etag=...)`) to be told "nothing changed" instead of the same rows again."""

    start: date
    end: date
    names: dict[str, str]  # the currencies asked, by ISO 4217 code: their names as the bank gives them
    rows: list[ExchangeRate]
    etag: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    def of(self, currency: str) -> list[ExchangeRate]:
        return [row for row in self.rows if row.currency == currency]

    @classmethod
    def from_json(cls, data: dict[str, Any], etag: str | None) -> ExchangeRates:
        currencies = data.get("currencies") or {}
        names = {str(code): str((about or {}).get("name", "")) for code, about in currencies.items()}
        rows = [
            ExchangeRate(date.fromisoformat(str(day)), str(currency), int(nominal), Decimal(str(value)))
            for day, currency, nominal, value in data.get("rates") or []
        ]
        return cls(date.fromisoformat(str(data["from"])), date.fromisoformat(str(data["to"])), names, rows, etag, data)


def rates_query(currencies: list[str], since: date | None, start: date | None, end: date | None) -> dict[str, str]:
    """The query of `GET /v1/rates`: the currencies, and the period (from the day after `since`, or from `start`)."""
    if (since is None) == (start is None):
        raise ValueError("give either since (the last day the program has) or start (the first day), not both")
    query = {"currencies": ",".join(currencies)}
    query.update({k: v.isoformat() for k, v in (("since", since), ("from", start), ("to", end)) if v is not None})
    return query


@dataclass(frozen=True)
class ReportingForm:
    """A published version of a regulated reporting form (DAT-2): what it is, from when it applies, the regulator's
    order it follows, what changed, and its file (`kit`: a signed link valid minutes, and the sha256 to check)."""

    code: str  # e.g. the VAT return's KND code, 1151001
    version: str
    name: str
    applies_from: date
    basis_number: str
    basis_date: date
    changes: str  # Markdown
    kit: Kit

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportingForm:
        code, version, file = str(data["code"]), str(data["version"]), data["file"]
        return cls(
            code=code,
            version=version,
            name=str(data.get("name", "")),
            applies_from=date.fromisoformat(str(data["applies_from"])),
            basis_number=str(data.get("basis_number", "")),
            basis_date=date.fromisoformat(str(data["basis_date"])),
            changes=str(data.get("changes", "")),
            kit=Kit(
                id=f"{code}/{version}",
                name=str(file["name"]),
                kind="form",
                size=int(file["size"]),
                sha256=str(file["sha256"]).lower(),
                url=str(file["url"]),
            ),
        )


@dataclass(frozen=True)
class FormUpdates:
    """The forms of the configuration to receive: each one the program holds older or not at all, newest version."""

    configuration: str
    forms: list[ReportingForm]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FormUpdates:
        forms = [ReportingForm.from_json(item) for item in data.get("forms") or []]
        return cls(str(data["configuration"]), forms, data)
