"""PIN hashing: argon2id with a salt, light enough for batches.

ASVS 5 (6.5.2): a secret with less than 112 bits of entropy is stored with a password hash and a
salt. A PIN has ~40 bits, is tried online at most 5 times an hour (REG-7), and is printed on paper
once; so argon2id m=2 MiB, t=1 (~1 ms): 100,000 envelopes hash in about a minute on 2 cores, while
an offline search of one PIN's 10^12 values still costs about 30 core-years per number.
"""

from __future__ import annotations

from argon2 import PasswordHasher

from shared.hashing import Argon2Hasher

MEMORY_KIB = 2 * 1024
TIME_COST = 1
PARALLELISM = 1


def pin_hasher() -> PasswordHasher:
    """The hasher with PINs' parameters, alone (the benchmark's reference hashes with it)."""
    return PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM)


class Pins(Argon2Hasher):
    def __init__(self, *, threads: int | None = None) -> None:
        super().__init__(memory_kib=MEMORY_KIB, time_cost=TIME_COST, parallelism=PARALLELISM, threads=threads)
