"""The members' recent logins identity's process keeps (services/identity/known_logins.py)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from services.identity.known_logins import KnownLogin, KnownLogins
from services.identity.store import Account
from services.identity.subscribers_store import Membership

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def known(login: str, *, read_at: float | None = None) -> KnownLogin:
    account = Account(uuid.uuid4(), login, f"{login}@example.org", None, "en", f"hash-{login}", NOW, False, NOW)
    membership = Membership(uuid.uuid4(), "CL-0001", "Romashka", "owner", True, NOW)
    return KnownLogin(None, account, membership, "101", "102", time.monotonic() if read_at is None else read_at)


def test_the_most_recent_logins_are_kept_and_the_oldest_go_first() -> None:
    logins = KnownLogins(kept=2)
    anna, boris, anna_again, vera = known("anna"), known("boris"), known("anna"), known("vera")
    logins.remember("anna", anna)
    logins.remember("boris", boris)
    logins.remember("anna", anna_again)  # anna's login is the most recent now
    logins.remember("vera", vera)
    assert (logins.get("anna"), logins.get("boris"), logins.get("vera")) == (anna_again, None, vera)


def test_a_forgotten_login_is_read_first_again() -> None:
    logins = KnownLogins()
    logins.remember("anna", known("anna"))
    logins.forget("anna")
    logins.forget("nobody")  # forgetting what is not kept changes nothing
    assert logins.get("anna") is None


def test_versions_read_longer_ago_than_the_limit_are_not_used() -> None:
    logins = KnownLogins(seconds=60)
    logins.remember("anna", known("anna", read_at=time.monotonic() - 61))
    fresh = known("boris", read_at=time.monotonic() - 59)
    logins.remember("boris", fresh)
    assert (logins.get("anna"), logins.get("boris")) == (None, fresh)
