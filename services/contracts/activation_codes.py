"""Activation codes of maintenance services (CMS-4): operators issue them in batches for partners' activation
sheets and online sale; only their hashes are kept."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from services.contracts import maintenance_store
from shared.db import Pool

MAX_CODES = 10_000
# Codes are 16 characters of Crockford's base32 (80 bits), typed from an activation sheet.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def code_hash(code: str) -> bytes:
    """80 random bits need no slow hash (nothing to guess from); the code is compared as typed,
    without separators, upper case, with Crockford's look-alikes (O→0, I/L→1) read as meant."""
    cleaned = code.upper().replace("-", "").replace(" ", "").replace("O", "0").replace("I", "1").replace("L", "1")
    return hashlib.sha256(cleaned.encode()).digest()


async def issue_codes(
    pool: Pool, *, category: int, months: int, count: int, now: datetime
) -> tuple[uuid.UUID, list[str]]:
    """A batch of `count` new codes for `category` (CMS-2) and `months` (CMS-5): its id and the codes, shown once."""
    codes = list({new_code() for _ in range(count)})  # 80 bits: a repeat is practically impossible
    batch_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        inserted = await maintenance_store.insert_codes(
            conn, [code_hash(c) for c in codes], category, months, batch_id, now
        )
    assert inserted == len(codes)
    return batch_id, codes
