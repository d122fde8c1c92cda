"""Passwords: argon2id at the OWASP password storage cheat sheet's minimum, m=19 MiB, t=2, p=1."""

from __future__ import annotations

from collections import OrderedDict

from shared.hashing import Argon2Hasher

MEMORY_KIB = 19 * 1024
TIME_COST = 2
VERIFIED_KEPT = 10_000  # logins whose hash this process keeps; ~2 MB


class VerifiedHashes:
    """The stored hash each login's password last verified against in this process, the most recent logins first.

    It lets a login start its hash while the account is read, instead of after (grants.password_grant): nothing is
    decided on it, since every login still reads the account and verifies again when the hash read differs. Only a
    right password puts a hash here, and any refusal takes it out, so a login under attack is read first again."""

    def __init__(self, kept: int = VERIFIED_KEPT) -> None:
        self._kept = kept
        self._hashes: OrderedDict[str, str] = OrderedDict()

    def get(self, login_key: str) -> str | None:
        return self._hashes.get(login_key)

    def remember(self, login_key: str, password_hash: str) -> None:
        self._hashes[login_key] = password_hash
        self._hashes.move_to_end(login_key)
        if len(self._hashes) > self._kept:
            self._hashes.popitem(last=False)

    def forget(self, login_key: str) -> None:
        self._hashes.pop(login_key, None)


class Passwords(Argon2Hasher):
    def __init__(self, *, memory_kib: int = MEMORY_KIB, time_cost: int = TIME_COST) -> None:
        super().__init__(memory_kib=memory_kib, time_cost=time_cost)
        self.verified = VerifiedHashes()
