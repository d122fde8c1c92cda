"""Checking a kit as it streams in against what the operator declared (size and sha256): the one check every
kit storage applies, so that a kit becomes visible under its sha256 only once it is what was declared."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator

from shared.problems import ValidationFailed, invalid

SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
WRITE_BATCH = 1024 * 1024  # bytes written (and hashed) per trip to a worker thread
READ_CHUNK = 256 * 1024


class ContentMismatch(ValidationFailed):
    """422: the uploaded bytes are not the declared kit (size or sha256); nothing was stored."""

    slug, title = "kit-mismatch", "The kit does not match its declared size and sha256"

    def __init__(
        self,
        detail: str,
        *,
        expected_size: int,
        received_size: int,
        expected_sha256: str,
        received_sha256: str | None,
    ) -> None:
        super().__init__([invalid("(body)", detail, "kit_mismatch")], detail)
        self.extra.update(
            expected_size=expected_size,
            # When the upload is too large it is cut short: this is what arrived before it was refused.
            received_size=received_size,
            expected_sha256=expected_sha256,
            received_sha256=received_sha256,
        )


def check_sha256(sha256: str) -> None:
    if not SHA256_PATTERN.fullmatch(sha256):
        raise ValueError("sha256 must be 64 lowercase hex digits")


class Checker:
    """Counts and hashes an incoming kit; refuses it the moment it grows past the declared size."""

    def __init__(self, sha256: str, size: int) -> None:
        check_sha256(sha256)
        if size < 0:
            raise ValueError("size must not be negative")
        self.sha256, self.size = sha256, size
        self.received = 0
        self.hasher = hashlib.sha256()

    def count(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.size:
            raise self.mismatch(f"the kit is larger than the declared {self.size} bytes")

    def finish(self) -> None:
        if self.received != self.size:
            raise self.mismatch(f"received {self.received} bytes, the kit was declared with {self.size}")
        if self.hasher.hexdigest() != self.sha256:
            raise self.mismatch("the kit's sha256 differs from the declared one", self.hasher.hexdigest())

    def mismatch(self, detail: str, received_sha256: str | None = None) -> ContentMismatch:
        return ContentMismatch(
            detail,
            expected_size=self.size,
            received_size=self.received,
            expected_sha256=self.sha256,
            received_sha256=received_sha256,
        )


async def batches(chunks: AsyncIterable[bytes], checker: Checker) -> AsyncIterator[bytearray]:
    """The upload in batches of WRITE_BATCH bytes or more (the last one may be smaller, even empty), each chunk
    counted as it arrives; the caller hashes each batch (off the event loop) and then calls `checker.finish`."""
    batch = bytearray()
    async for chunk in chunks:
        checker.count(chunk)
        batch += chunk
        if len(batch) >= WRITE_BATCH:
            data, batch = batch, bytearray()
            yield data
    yield batch


async def drain_and_check(chunks: AsyncIterable[bytes], checker: Checker) -> None:
    """A kit stored already: read the upload through anyway, so a wrong one is still refused."""
    async for data in batches(chunks, checker):
        await asyncio.to_thread(checker.hasher.update, data)
    checker.finish()
