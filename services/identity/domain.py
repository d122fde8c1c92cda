"""Identity rules, pure: no I/O. Rules ACC-1..3 in docs/rules.md."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from zxcvbn.frequency_lists import FREQUENCY_LISTS

from rules.refusal import Refusal, Refused

# OWASP ASVS 5 (V6.2): at least 8 characters, at least 64 allowed, no truncation, no composition rules,
# refuse common passwords.
PASSWORD_MIN = 8
PASSWORD_MAX = 128
LOGIN_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")

EMAIL_VERIFICATION_TTL = timedelta(days=5)
PASSWORD_RESET_TTL = timedelta(hours=1)
EMAIL_CHANGE_TTL = timedelta(hours=24)
TOKEN_BYTES = 32  # 256 bits, URL-safe


class PasswordRejected(ValueError):
    """The password breaks the policy; the message says why, for the person choosing it."""


def too_often(message: str, *, retry_after: int) -> Refused:
    """Asked too often (logins, verification mails, invitations): refused until `retry_after` seconds pass."""
    return Refused(Refusal("too-often", message, "too-often", details={"retry_after": retry_after}))


@cache
def common_passwords() -> frozenset[str]:
    """30,000 most common passwords (zxcvbn's list, from leaked password corpora)."""
    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password(password: str, *, login: str, email: str) -> None:
    """Raise PasswordRejected unless `password` may be used by this account."""
    if len(password) < PASSWORD_MIN:
        raise PasswordRejected(f"use at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise PasswordRejected(f"use at most {PASSWORD_MAX} characters")
    lowered = password.lower()
    if lowered in common_passwords():
        raise PasswordRejected("this password is among the most common ones; choose another")
    if lowered in {login.lower(), email.lower(), email.split("@")[0].lower()}:
        raise PasswordRejected("the password must not be your login or e-mail")
    if len(set(password)) < 3:
        raise PasswordRejected("the password repeats too few different characters")


def normalize_login(login: str) -> str:
    return login.strip()


def new_token() -> str:
    """A single-use secret for links: 256 random bits, URL-safe. Only its hash is stored."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# ---- login throttling ---------------------------------------------------------------------
# Failures are counted per login name (existing or not, so throttling never tells whether an
# account exists) and per client address (shared.forwarded: behind trusted proxies only):
#   - per (login, address): PAIR_LIMIT failures per PAIR_WINDOW;
#   - per login from addresses it has not succeeded from recently: LOGIN_LIMIT per LOGIN_WINDOW;
#   - per address across logins: ADDRESS_LIMIT per ADDRESS_WINDOW (password spraying), except for a
#     login that succeeded from that address recently;
#   - per login from anywhere: LOGIN_CEILING per LOGIN_WINDOW, which bounds guessing against one
#     account (ASVS 2.2.1: at most 100 failures per hour). Strangers stop at LOGIN_LIMIT, so only
#     failures at the owner's own known addresses can reach it.
# So no single address or login locks other people out (ASVS 2.2.1): the owner at a known address
# passes the login and address blocks that strangers' failures cause. Every block ends by itself
# when the window slides past the old failures.


@dataclass(frozen=True)
class ThrottlePolicy:
    pair_limit: int = 5
    pair_window: timedelta = timedelta(minutes=15)
    login_limit: int = 50
    login_window: timedelta = timedelta(hours=1)
    login_ceiling: int = 100
    address_limit: int = 100
    address_window: timedelta = timedelta(minutes=15)
    known_address_for: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class FailureCounts:
    """Failures inside each window, and the oldest failure still counted in it."""

    pair: int
    pair_oldest: datetime | None
    login: int
    login_oldest: datetime | None
    address: int
    address_oldest: datetime | None
    address_is_known: bool  # the login succeeded from this address within `known_address_for`


def throttled_until(counts: FailureCounts, policy: ThrottlePolicy) -> datetime | None:
    """When the next attempt is allowed again, or None if it is allowed now."""
    blocks: list[datetime] = []
    if counts.pair >= policy.pair_limit and counts.pair_oldest:
        blocks.append(counts.pair_oldest + policy.pair_window)
    if counts.login_oldest and (
        counts.login >= policy.login_ceiling or (counts.login >= policy.login_limit and not counts.address_is_known)
    ):
        blocks.append(counts.login_oldest + policy.login_window)
    if counts.address >= policy.address_limit and counts.address_oldest and not counts.address_is_known:
        blocks.append(counts.address_oldest + policy.address_window)
    return max(blocks) if blocks else None


# ---- subscribers (SUB-1..7) -----------------------------------------------------------------

# Rule SUB-5: the rights an owner grants; the owner has every one of them (SUB-4).
ITS_ACCESS = "its_access"
ALL_RIGHTS = (ITS_ACCESS,)


def new_subscriber_code() -> str:
    """Rule SUB-2: `CL-` + 7 digits, random so that codes say nothing about each other."""
    return f"CL-{secrets.randbelow(10**7):07d}"


def subscriber_name(full_name: str | None, login: str) -> str:
    """Rule SUB-1: the full name given at registration, else the login."""
    return full_name or login


def member_rights(role: str, its_access: bool) -> list[str]:
    if role == "owner":
        return list(ALL_RIGHTS)
    return [ITS_ACCESS] if its_access else []


# ---- invitations (INV-1..6) -----------------------------------------------------------------

INVITATION_TTL = timedelta(days=7)  # rule INV-3
INVITATIONS_PER_DAY = 50  # sent (created or re-sent) per subscriber, against mass mailing


@dataclass(frozen=True)
class InvitationTimes:
    valid_until: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None
    superseded_at: datetime | None


def invitation_state(times: InvitationTimes, now: datetime) -> str:
    """Rule INV-6: pending, accepted, expired, superseded or revoked."""
    if times.accepted_at is not None:
        return "accepted"
    if times.revoked_at is not None:
        return "revoked"
    if times.superseded_at is not None:
        return "superseded"
    if times.valid_until <= now:
        return "expired"
    return "pending"


def invitation_text(*, full_name: str, subscriber_name: str, owner_name: str, its_access: bool, language: str) -> str:
    """Rule INV-2: the message the owner reads before it is sent; the e-mail adds the link and the date."""
    if language == "ru":
        right = (
            "Вам сразу предоставлено право доступа к информационной системе ИТС.\n"
            if its_access
            else "Права доступа к сервисам вам назначит владелец абонента.\n"
        )
        return (
            f"Здравствуйте, {full_name}!\n\n"
            f"{owner_name} приглашает вас стать пользователем абонента «{subscriber_name}» на портале ИТС.\n"
            f"{right}"
        )
    right = (
        "You are granted access to the ITS information system right away.\n"
        if its_access
        else "The subscriber's owner will grant you access to services.\n"
    )
    return (
        f"Hello, {full_name}!\n\n"
        f'{owner_name} invites you to become a user of the subscriber "{subscriber_name}" on the ITS Portal.\n'
        f"{right}"
    )


def same_email(a: str, b: str) -> bool:
    """Addresses compared whole and case-insensitively: `Alice@X` is `alice@x`; `ice@x` is not."""
    return a.strip().casefold() == b.strip().casefold()


def partner_invitation_text(*, full_name: str, partner_name: str, inviter_name: str, language: str) -> str:
    """The message of an invitation to a partner's staff, read by the inviter before it is sent."""
    if language == "ru":
        return (
            f"Здравствуйте, {full_name}!\n\n"
            f"{inviter_name} приглашает вас в сотрудники партнёра «{partner_name}» на портале ИТС.\n"
        )
    return (
        f"Hello, {full_name}!\n\n"
        f'{inviter_name} invites you to join the staff of the partner "{partner_name}" on the ITS Portal.\n'
    )
