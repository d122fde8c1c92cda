"""argon2id hashing, off the event loop, with a bounded number of hashes at once."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP password storage cheat sheet minimum for argon2id: m=19 MiB, t=2, p=1.
MEMORY_KIB = 19 * 1024
TIME_COST = 2
PARALLELISM = 1


class Passwords:
    def __init__(self, *, memory_kib: int = MEMORY_KIB, time_cost: int = TIME_COST) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=PARALLELISM)
        # argon2-cffi releases the GIL while hashing; a small pool bounds memory (m per hash) and CPU.
        self.executor = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="argon2")
        # Verified when the login is unknown, so that both answers take the same time.
        self.dummy_hash = self.hasher.hash("not-a-real-password-" + os.urandom(8).hex())

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True if `password` matches; with no hash (unknown login) it still spends the same time."""
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, self._verify, password_hash or self.dummy_hash, password, password_hash is not None
        )

    def _verify(self, password_hash: str, password: str, real: bool) -> bool:
        try:
            return self.hasher.verify(password_hash, password) and real
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
