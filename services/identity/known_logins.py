"""The logins identity's process saw succeed lately, and what each read then: the account, the membership the token
carried and the versions of their rows (PostgreSQL's `xmin`: any change of a row writes a new one).

They let a login of the same member start its hash at once and be recorded in the statement that reads the
account (grants.password_grant, subscribers_store.record_known_login): nothing is decided on them. That statement
records the login and keeps its refresh token only if both rows are still the versions kept here (the member's
read under a share lock), and otherwise answers what it read, so the login goes on as any other. Only a login whose
password was right puts an entry here, and any refusal takes its login's entry out, so a login under attack is
read first again."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from services.identity.store import Account
from services.identity.subscribers_store import Membership

KEPT = 10_000  # logins; a few MB
# Versions are trusted for an hour after they were last read: a row's version (a 32-bit transaction id) could only
# come back after four billion transactions, and an hour keeps that far out of reach.
KEPT_SECONDS = 3600.0


@dataclass(frozen=True)
class KnownLogin:
    """A member's login that succeeded: for `subscriber` (the code asked for; None: the account's own), the
    account and membership its tokens carried, and their rows' versions as read at `read_at` (time.monotonic)."""

    subscriber: str | None
    account: Account
    membership: Membership
    account_version: str
    member_version: str
    read_at: float


class KnownLogins:
    """The most recent successful login of each login key, the oldest dropped first."""

    def __init__(self, kept: int = KEPT, seconds: float = KEPT_SECONDS) -> None:
        self._kept, self._seconds = kept, seconds
        self._logins: OrderedDict[str, KnownLogin] = OrderedDict()

    def get(self, login_key: str) -> KnownLogin | None:
        known = self._logins.get(login_key)
        if known is not None and time.monotonic() - known.read_at > self._seconds:
            del self._logins[login_key]
            return None
        return known

    def remember(self, login_key: str, known: KnownLogin) -> None:
        self._logins[login_key] = known
        self._logins.move_to_end(login_key)
        if len(self._logins) > self._kept:
            self._logins.popitem(last=False)

    def forget(self, login_key: str) -> None:
        self._logins.pop(login_key, None)
