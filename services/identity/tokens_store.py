"""identity's SQL for what logging in keeps: refresh tokens, login attempts and the signing keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.identity.domain import FailureCounts, ThrottlePolicy
from shared.db import Connection

# ---- refresh tokens -----------------------------------------------------------------------


@dataclass(frozen=True)
class NewRefreshToken:
    token_hash: bytes
    family_id: uuid.UUID
    account_id: uuid.UUID
    subscriber_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime

    def values(self) -> tuple[bytes, uuid.UUID, uuid.UUID, uuid.UUID | None, datetime, datetime]:
        """The row's values in REFRESH_TOKEN_COLUMNS' order."""
        return self.token_hash, self.family_id, self.account_id, self.subscriber_id, self.created_at, self.expires_at


REFRESH_TOKEN_COLUMNS = "token_hash, family_id, account_id, subscriber_id, created_at, expires_at"  # noqa: S105


async def insert_refresh_token(conn: Connection, token: NewRefreshToken) -> None:
    await conn.execute(
        f"INSERT INTO refresh_tokens ({REFRESH_TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)", *token.values()
    )


@dataclass(frozen=True)
class RefreshUse:
    """Outcome of presenting a refresh token."""

    account_id: uuid.UUID | None = None  # set when the token was valid and is now used
    family_id: uuid.UUID | None = None
    subscriber_id: uuid.UUID | None = None
    reused_family: uuid.UUID | None = None  # set when an already-used token came back: a theft signal


async def use_refresh_token(conn: Connection, token_hash: bytes, now: datetime) -> RefreshUse:
    row = await conn.fetchrow(
        "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL "
        "AND expires_at > $2 RETURNING account_id, family_id, subscriber_id",
        token_hash,
        now,
    )
    if row is not None:
        return RefreshUse(row["account_id"], row["family_id"], row["subscriber_id"])
    family: uuid.UUID | None = await conn.fetchval(
        "SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL", token_hash
    )
    return RefreshUse(reused_family=family)


async def revoke_member_refresh_tokens(
    conn: Connection, account_id: uuid.UUID, subscriber_id: uuid.UUID, now: datetime
) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = $3 WHERE account_id = $1 AND subscriber_id = $2 AND revoked_at IS NULL",
        account_id,
        subscriber_id,
        now,
    )


async def revoke_token_family(conn: Connection, token_hash: bytes, now: datetime) -> None:
    """Revoke the family of the refresh token with this hash (used or not); nothing when it is unknown."""
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE revoked_at IS NULL "
        "AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
        token_hash,
        now,
    )


async def revoke_family(conn: Connection, family_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL", family_id, now
    )


async def revoke_account_refresh_tokens(conn: Connection, account_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL", account_id, now
    )


# ---- login throttling ---------------------------------------------------------------------


def failure_windows(
    login: str, client_addr: str, now: datetime, policy: ThrottlePolicy
) -> tuple[str, str, datetime, datetime, datetime, datetime]:
    """The arguments of the function `login_failure_counts` (identity migration 0012): who, and since when each
    window counts."""
    return (
        login,
        client_addr,
        now - policy.pair_window,
        now - policy.login_window,
        now - policy.known_address_for,
        now - policy.address_window,
    )


async def failure_counts(
    conn: Connection, login: str, client_addr: str, now: datetime, policy: ThrottlePolicy
) -> FailureCounts:
    # A function, so that the read keeps its generic plan rather than being planned again on every login
    # (identity migration 0012).
    row = await conn.fetchrow(
        "SELECT * FROM login_failure_counts($1, $2, $3, $4, $5, $6)", *failure_windows(login, client_addr, now, policy)
    )
    assert row is not None
    return failure_counts_of(row)


def failure_counts_of(row: asyncpg.Record, *, login: str = "login") -> FailureCounts:
    """The counts in a row of `login_failure_counts`, whose `login` column a joined read may name otherwise."""
    return FailureCounts(
        pair=row["pair"],
        pair_oldest=row["pair_oldest"],
        login=row[login],
        login_oldest=row["login_oldest"],
        address=row["address"],
        address_oldest=row["address_oldest"],
        address_is_known=bool(row["address_is_known"]),
    )


async def record_login_attempt(
    conn: Connection,
    login: str,
    client_addr: str,
    now: datetime,
    success: bool,
    refresh_token: NewRefreshToken | None = None,
) -> None:
    """Record the attempt and, for a successful login, its refresh token: one statement, one commit."""
    token = refresh_token
    await conn.execute(
        "WITH attempt AS (INSERT INTO login_attempts (login, client_addr, at, success) VALUES ($1, $2, $3, $4)) "
        "INSERT INTO refresh_tokens (token_hash, family_id, account_id, subscriber_id, created_at, expires_at) "
        "SELECT $5, $6, $7, $9, $3, $8 WHERE $5::bytea IS NOT NULL",
        login,
        client_addr,
        now,
        success,
        token.token_hash if token else None,
        token.family_id if token else None,
        token.account_id if token else None,
        token.expires_at if token else None,
        token.subscriber_id if token else None,
    )


@dataclass(frozen=True)
class MemberLogin:
    """A member's login recorded while its password is checked (record_member_login)."""

    attempt_id: int
    kept: bool  # the refresh token was kept: the member's row was unchanged


async def record_member_login(
    conn: Connection, login: str, client_addr: str, token: NewRefreshToken, member_version: str
) -> MemberLogin:
    """A member's login in one statement (its own transaction), run while the password is checked: the attempt is
    recorded as a success and, if the membership's row is still the version read before (read again under a share
    lock), the refresh token is kept. Kept when it was: no change of the member committed since that read, nor can
    one commit before this statement has (it waits for the lock), so a token stamped before this statement carries
    the member's grant as it stands and was stamped before any later change (shared.revocations). A wrong password
    turns the attempt into a failure and drops the token before it is refused (record_wrong_password)."""
    assert token.subscriber_id is not None
    row = await conn.fetchrow(
        "WITH granted AS ("
        "  SELECT m.xmin::text = $8 AS unchanged FROM members m "
        "  WHERE m.subscriber_id = $7 AND m.account_id = $6 AND m.excluded_at IS NULL FOR SHARE"
        "), attempt AS ("
        "  INSERT INTO login_attempts (login, client_addr, at, success) VALUES ($1, $2, $3, true) RETURNING id"
        "), refresh AS ("
        "  INSERT INTO refresh_tokens (token_hash, family_id, account_id, subscriber_id, created_at, expires_at) "
        "  SELECT $4, $5, $6, $7, $3, $9 FROM granted WHERE granted.unchanged"
        ") SELECT (SELECT id FROM attempt) AS attempt_id, coalesce((SELECT unchanged FROM granted), false) AS kept",
        login,
        client_addr,
        token.created_at,
        token.token_hash,
        token.family_id,
        token.account_id,
        token.subscriber_id,
        member_version,
        token.expires_at,
    )
    assert row is not None
    return MemberLogin(row["attempt_id"], row["kept"])


async def record_wrong_password(conn: Connection, login: MemberLogin, token_hash: bytes) -> None:
    """The password of a login recorded by record_member_login was wrong: the attempt becomes a failure and the
    refresh token, whose secret was never given out, is dropped. One statement, committed before the refusal."""
    await conn.execute(
        "WITH dropped AS (DELETE FROM refresh_tokens WHERE token_hash = $2) "
        "UPDATE login_attempts SET success = false WHERE id = $1",
        login.attempt_id,
        token_hash,
    )


async def unrecord_login(conn: Connection, attempt_id: int, token_hash: bytes) -> None:
    """A login recorded before it was found throttled (subscribers_store.record_known_login) is taken back, as if
    it had been refused before it was recorded: the attempt and the refresh token, whose secret was never given
    out, are deleted. One statement, committed before the refusal."""
    await conn.execute(
        "WITH dropped AS (DELETE FROM refresh_tokens WHERE token_hash = $2) DELETE FROM login_attempts WHERE id = $1",
        attempt_id,
        token_hash,
    )


async def purge_login_attempts(conn: Connection, before: datetime) -> None:
    await conn.execute("DELETE FROM login_attempts WHERE at < $1", before)


# ---- signing keys -------------------------------------------------------------------------


async def active_signing_keys(conn: Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT kid, private_pem, public_jwk, created_at FROM signing_keys WHERE retired_at IS NULL "
        "ORDER BY created_at DESC"
    )


async def insert_signing_key(
    conn: Connection, kid: str, private_pem: str, public_jwk: dict[str, Any], now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO signing_keys (kid, private_pem, public_jwk, created_at) VALUES ($1, $2, $3, $4)",
        kid,
        private_pem,
        public_jwk,
        now,
    )
