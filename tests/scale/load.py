"""Load through the gateway, as partners' systems and people send it, counted: what was sent, what was accepted,
how often a request had to be sent again, and when it last had to be.

A partner's system sends a contract again, with the same Idempotency-Key, when the connection fails or the gateway
answers 502/503 (no replica could take it) or contracts answers 409 (the first request with that key is still being
processed); an authorisation (REG-5, safe to repeat: the same one answers again) likewise. Reads are sent once: the
gateway itself passes a GET a killed replica could not answer on to the other (proxy_next_upstream), so a failed read
is a failure of the gateway's.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

RETRIED_STATUSES = frozenset({409, 502, 503})
GIVE_UP_SECONDS = 60.0
RETRY_PAUSE_SECONDS = 0.2


@dataclass
class Tally:
    """One kind of request: `sent` (distinct requests), `accepted`, `attempts` (sent again included), `retried`
    (requests sent more than once), `replayed` (answers marked Idempotent-Replayed), `failed` (never accepted, with
    the last answer), and the monotonic time of the last retry."""

    sent: int = 0
    accepted: int = 0
    attempts: int = 0
    retried: int = 0
    replayed: int = 0
    failed: list[str] = field(default_factory=list)
    last_retry_at: float = 0.0


@dataclass
class Client:
    http: aiohttp.ClientSession
    gateway: str

    async def send(
        self, tally: Tally, method: str, path: str, token: str, *, ok: int, retry: bool, **kw: Any
    ) -> dict[str, Any] | None:
        """Send until answered `ok` (retrying what a partner's system retries, when `retry`); the answer's body, or
        None when it never was."""
        tally.sent += 1
        deadline = time.monotonic() + GIVE_UP_SECONDS
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        first = True
        while True:
            tally.attempts += 1
            try:
                async with self.http.request(method, f"{self.gateway}{path}", headers=headers, ssl=False, **kw) as r:
                    outcome = f"{r.status} {await r.text()}"[:300]
                    if r.status == ok:
                        tally.accepted += 1
                        tally.replayed += r.headers.get("Idempotent-Replayed") == "true"
                        body: dict[str, Any] = await r.json(content_type=None)
                        return body
                    again = r.status in RETRIED_STATUSES
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                outcome, again = repr(exc), True
            if not (retry and again) or time.monotonic() > deadline:
                tally.failed.append(outcome)
                return None
            if first:
                tally.retried += 1
                first = False
            tally.last_retry_at = time.monotonic()
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
