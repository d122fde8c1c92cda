"""Login attempts: admitted while neither the login nor the client address is throttled (ASVS 2.2.1), then
recorded, success or not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.identity import domain, store, tokens_store
from services.identity.domain import ThrottlePolicy, too_often
from services.identity.passwords import Passwords
from shared.clock import Clock
from shared.db import Connection, Pool
from shared.jobs import Daily


@dataclass(frozen=True)
class LoginAttempt:
    login_key: str  # the login as typed, lower-cased: existing or not, so throttling reveals nothing
    address: str

    @classmethod
    def of(cls, login: str, address: str) -> LoginAttempt:
        return cls(login.strip().lower(), address)


async def admit_login(pool: Pool, policy: ThrottlePolicy, clock: Clock, attempt: LoginAttempt) -> None:
    """Refused (too-often) while the login or the client address is throttled."""
    async with pool.acquire() as conn:
        counts = await tokens_store.failure_counts(conn, attempt.login_key, attempt.address, clock.now(), policy)
    refuse_if_throttled(counts, policy, clock)


def refuse_if_throttled(counts: domain.FailureCounts, policy: ThrottlePolicy, clock: Clock) -> None:
    """Refused (too-often), saying when to try again, while `counts` throttle the attempt."""
    blocked_until = domain.throttled_until(counts, policy)
    if blocked_until is not None:
        retry_after = max(int((blocked_until - clock.now()).total_seconds()) + 1, 1)
        raise too_often(f"too many failed attempts; try again in {retry_after} seconds", retry_after=retry_after)


async def check_password(
    pool: Pool,
    passwords: Passwords,
    policy: ThrottlePolicy,
    clock: Clock,
    account: store.Account,
    password: str,
    *,
    address: str,
) -> bool:
    """Throttled check of an account's password, counted like a login attempt."""
    attempt = LoginAttempt.of(account.login, address)
    await admit_login(pool, policy, clock, attempt)
    ok = await passwords.verify(account.password_hash, password)
    async with pool.acquire() as conn:
        await tokens_store.record_login_attempt(conn, attempt.login_key, attempt.address, clock.now(), ok)
    return ok


async def purge_login_attempts(conn: Connection, now: datetime) -> None:
    """Login attempts are kept for the "known address" window (30 days), then purged."""
    await tokens_store.purge_login_attempts(conn, now - ThrottlePolicy().known_address_for)


LOGIN_ATTEMPTS_PURGE = Daily("identity.purge_login_attempts", "purge-login-attempts", purge_login_attempts)
