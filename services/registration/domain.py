"""Registration rules, pure: no I/O. Rules REG-1..7, CMS-2, ITS-7 in docs/rules.md."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from rules.refusal import Refusal
from shared.events.registration import Edition

EDITIONS: tuple[Edition, ...] = ("BASIC", "PROF", "CORP", "SPECIAL")

# rule REG-3: access through a self-registration starts 15 minutes after it.
ACTIVATION_DELAY = timedelta(minutes=15)

# ---- registration numbers and PINs (REG-1, REG-2) ------------------------------------------
# A number is 10 random digits (the first not 0) and a Luhn check digit: numbers of one batch
# say nothing about each other, and a mistyped digit is caught before it costs a PIN try.
NUMBER_LENGTH = 11
# A PIN is 12 random digits (~40 bits): printed in the envelope, typed by a person.
PIN_LENGTH = 12
_SEPARATORS = re.compile(r"[\s-]+")


def luhn_digit(digits: str) -> str:
    """The check digit that makes `digits + it` pass the Luhn test."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def new_registration_number() -> str:
    body = str(secrets.randbelow(9 * 10**9) + 10**9)
    return body + luhn_digit(body)


def is_registration_number(value: str) -> bool:
    return len(value) == NUMBER_LENGTH and value.isdigit() and luhn_digit(value[:-1]) == value[-1]


def new_pin() -> str:
    return f"{secrets.randbelow(10**PIN_LENGTH):0{PIN_LENGTH}d}"


def normalize(value: str) -> str:
    """Numbers and PINs are accepted as printed, with spaces or hyphens between groups."""
    return _SEPARATORS.sub("", value)


def is_ean13(article: str) -> bool:
    """Articles are EAN-13 codes (e.g. 4601546041807): 13 digits, the last a check digit."""
    if len(article) != 13 or not article.isdigit():
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(article[:12]))
    return (10 - total % 10) % 10 == int(article[12])


# The answer to a wrong PIN, the same for an unknown number (REG-7: nothing to learn from it).
WRONG_PIN = (
    "Check the registration number and the PIN as printed in the envelope. Products delivered "
    "without a PIN envelope are registered by the partner who sold them."
)


# ---- wrong PINs (REG-7) ---------------------------------------------------------------------
# Our decision for REG-7, counted over a sliding hour. Anyone can read a registration number off a box, so
# a single count per number would let a stranger lock the owner out; the counts are therefore
# - 5 wrong tries per registration number and subscriber: the owner's own typos, as REG-7 says;
# - 20 per subscriber, over all numbers: one subscriber trying number after number;
# - 50 per registration number, from all subscribers together: a ceiling on guessing a number's PIN
#   (50 tries an hour against 10^12 PINs: about 4 in 10 million a year) that one stranger, who has only 5
#   tries on it, cannot reach; it takes ten subscribers working together.

PinScope = Literal["number", "subscriber"]


@dataclass(frozen=True)
class PinFailures:
    """The wrong PINs of the last window that concern one try: of (this number, this subscriber), of this
    number from anyone, and of this subscriber on any number (as the store finds them)."""

    number_and_subscriber: list[datetime] = field(default_factory=list)
    number: list[datetime] = field(default_factory=list)
    subscriber: list[datetime] = field(default_factory=list)

    def plus(self, at: datetime) -> PinFailures:
        """With one more wrong PIN of this number by this subscriber."""
        return PinFailures([*self.number_and_subscriber, at], [*self.number, at], [*self.subscriber, at])


@dataclass(frozen=True)
class PinWait:
    scope: PinScope  # what is locked: this number (for this subscriber, or for everyone), or the subscriber
    wait: timedelta


@dataclass(frozen=True)
class PinThrottle:
    per_number_and_subscriber: int = 5
    per_subscriber: int = 20
    per_number: int = 50
    window: timedelta = timedelta(hours=1)

    def _counts(self, failures: PinFailures) -> list[tuple[PinScope, list[datetime], int]]:
        return [
            ("number", failures.number_and_subscriber, self.per_number_and_subscriber),
            ("number", failures.number, self.per_number),
            ("subscriber", failures.subscriber, self.per_subscriber),
        ]

    def retry_after(self, failures: PinFailures, now: datetime) -> PinWait | None:
        """None if another try is allowed now; else the longest wait of the limits reached (each until its
        oldest failure leaves the window) and what it locks."""
        waits = []
        for scope, times, limit in self._counts(failures):
            recent = sorted(at for at in times if at > now - self.window)
            if len(recent) >= limit:
                waits.append(PinWait(scope, recent[-limit] + self.window - now))
        return max(waits, key=lambda w: w.wait, default=None)

    def tries_left(self, failures: PinFailures, now: datetime) -> int:
        """How many more wrong PINs this subscriber may type for this number in the window."""
        return max(
            0,
            min(limit - sum(at > now - self.window for at in times) for _, times, limit in self._counts(failures)),
        )


# ---- what a registration needs (REG-2, REG-4, ITS-7) ---------------------------------------


def default_its_required(edition: Edition) -> bool:
    """ITS-7: BASIC editions get updates without a contract; every other edition needs one."""
    return edition != "BASIC"


def needs_contract_to_self_register(edition: Edition) -> bool:
    """REG-4: a PROF product is self-registered with a PIN only if an ITS contract covers its number."""
    return edition == "PROF"


def is_covering(period_to: str, today: date) -> bool:
    """A contract covers a number while its period (YYYY-MM, inclusive) has not ended: now or in future."""
    return period_to >= f"{today.year:04d}-{today.month:02d}"


def may_self_register(edition: Edition, contract_ends: Iterable[str], today: date) -> bool:
    """REG-4, the one place it is decided: a product is registered with its PIN unless its edition needs a
    contract for that (PROF) and no ITS contract listing its number (main or additional) covers today or later.
    `contract_ends`: the end months (YYYY-MM) of the contracts that list the number."""
    return not needs_contract_to_self_register(edition) or any(is_covering(end, today) for end in contract_ends)


def contract_required(number: str) -> Refusal:
    """REG-4's "no", with what to do instead."""
    return Refusal(
        "its-contract-required",
        "A PROF product is registered with its PIN only when an ITS contract lists its registration "
        "number, as the main or an additional product (rule REG-4). Ask your partner to register an ITS "
        "contract for this number (it is processed on the next business day) and try again then, or ask "
        "the partner to authorise the product for your subscriber code.",
        details={"registration_number": number},
    )


def purchase_date_refusal(purchase_date: date, today: date, field: str) -> Refusal | None:
    """REG-2, REG-5: a purchase date is not after the vendor's today."""
    if purchase_date <= today:
        return None
    return Refusal("purchase_date_future", f"the purchase date cannot be after today ({today})", field=field)


OFFER_HOW = (
    "Buy a product that includes this configuration from a partner. Register it here with the "
    "registration number and PIN from its envelope, or ask the partner to authorise it for your "
    "subscriber code."
)


# A letter, then letters, digits, '_', '.', '-'; not `access`, the name of the subscriber's access list
# (`/v1/configurations/access`), so that path means one thing.
CONFIGURATION_CODE = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
RESERVED_CONFIGURATION_CODE = "access"
CONFIGURATION_CODE_DOCUMENTED = rf"^(?!{RESERVED_CONFIGURATION_CODE}$)[A-Za-z][A-Za-z0-9_.-]{{0,63}}$"
_CONFIGURATION_CODE = re.compile(CONFIGURATION_CODE)


def is_configuration_code(code: str) -> bool:
    return _CONFIGURATION_CODE.fullmatch(code) is not None and code != RESERVED_CONFIGURATION_CODE


@dataclass(frozen=True)
class CatalogueListing:
    """A catalogue list's search (`q`), filters, order and the key of the last item seen (None: the first page)."""

    sort: str
    q: str | None = None
    edition: str | None = None  # products only
    configuration: str | None = None  # products only: those of this configuration
    after: tuple[str, str] | None = None
