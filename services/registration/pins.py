"""PIN hashing: argon2id with a salt, light enough for batches, off the event loop.

ASVS 5 (6.5.2): a secret with less than 112 bits of entropy is stored with a password hash and a
salt. A PIN has ~40 bits, is tried online at most 5 times an hour (REG-7), and is printed on paper
once; so argon2id m=2 MiB, t=1 (~1 ms): 100,000 envelopes hash in about a minute on 2 cores, while
an offline search of one PIN's 10^12 values still costs about 30 core-years per number.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MEMORY_KIB = 2 * 1024
TIME_COST = 1
PARALLELISM = 1


def pin_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM)


class Pins:
    def __init__(self, *, threads: int | None = None) -> None:
        self.hasher = pin_hasher()
        self.threads = threads or os.cpu_count() or 2
        # argon2-cffi releases the GIL while hashing: threads use every core.
        self.executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="pin-hash")
        # Verified against when a number is unknown or has no PIN, so that every refusal takes as long.
        self.dummy_hash = self.hasher.hash(os.urandom(8).hex())

    async def hash_many(self, pins: list[str]) -> list[str]:
        """The hashes of `pins`, in order, computed on every thread."""
        loop = asyncio.get_running_loop()
        size = max(1, -(-len(pins) // self.threads))
        chunks = [pins[i : i + size] for i in range(0, len(pins), size)]
        parts = await asyncio.gather(*(loop.run_in_executor(self.executor, self._hash_all, c) for c in chunks))
        return [h for part in parts for h in part]

    def _hash_all(self, pins: list[str]) -> list[str]:
        return [self.hasher.hash(pin) for pin in pins]

    async def verify(self, pin_hash: str | None, pin: str) -> bool:
        """True if `pin` matches; with no hash it still spends the same time and answers False."""
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, self._verify, pin_hash or self.dummy_hash, pin, pin_hash is not None
        )

    def _verify(self, pin_hash: str, pin: str, real: bool) -> bool:
        try:
            return self.hasher.verify(pin_hash, pin) and real
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
