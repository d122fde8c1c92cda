"""Passwords: argon2id at the OWASP password storage cheat sheet's minimum, m=19 MiB, t=2, p=1."""

from __future__ import annotations

from shared.hashing import Argon2Hasher

MEMORY_KIB = 19 * 1024
TIME_COST = 2


class Passwords(Argon2Hasher):
    def __init__(self, *, memory_kib: int = MEMORY_KIB, time_cost: int = TIME_COST) -> None:
        super().__init__(memory_kib=memory_kib, time_cost=time_cost)
