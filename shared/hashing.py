"""argon2id hashing of secrets (passwords, PINs), off the event loop, on a bounded pool of threads."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2Hasher:
    """A secret's salted argon2id hash; each service chooses the cost that fits its secrets."""

    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int = 1, threads: int | None = None) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self.threads = threads or os.cpu_count() or 2
        # argon2-cffi releases the GIL while hashing: threads use every core; the pool bounds memory and CPU.
        self.executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="argon2")
        # Verified against when there is no hash (unknown login, unknown number): every refusal takes as long.
        self.dummy_hash = self.hasher.hash("not-a-real-secret-" + os.urandom(8).hex())

    async def hash(self, secret: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.hasher.hash, secret)

    async def hash_many(self, secrets: list[str]) -> list[str]:
        """The hashes of `secrets`, in order, computed on every thread."""
        loop = asyncio.get_running_loop()
        size = max(1, -(-len(secrets) // self.threads))
        chunks = [secrets[i : i + size] for i in range(0, len(secrets), size)]
        parts = await asyncio.gather(*(loop.run_in_executor(self.executor, self._hash_all, c) for c in chunks))
        return [h for part in parts for h in part]

    def _hash_all(self, secrets: list[str]) -> list[str]:
        return [self.hasher.hash(secret) for secret in secrets]

    async def verify(self, secret_hash: str | None, secret: str) -> bool:
        """True if `secret` matches; with no hash it still spends the same time and answers False."""
        return await self.verifying(secret_hash, secret)

    def verifying(self, secret_hash: str | None, secret: str) -> asyncio.Future[bool]:
        """verify's answer to come: the hash is handed to its thread now, and the caller goes on meanwhile."""
        return asyncio.get_running_loop().run_in_executor(
            self.executor, self._verify, secret_hash or self.dummy_hash, secret, secret_hash is not None
        )

    def _verify(self, secret_hash: str, secret: str, real: bool) -> bool:
        try:
            return self.hasher.verify(secret_hash, secret) and real
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, secret_hash: str) -> bool:
        return self.hasher.check_needs_rehash(secret_hash)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
