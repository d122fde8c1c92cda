"""identity's SQL for accounts and their single-use links. Every function takes its caller's connection (and so
its transaction)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from shared.db import Connection


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    login: str
    email: str
    full_name: str | None
    language: str
    password_hash: str
    email_verified_at: datetime | None
    is_operator: bool
    created_at: datetime

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


ACCOUNT_COLUMNS = "id, login, email, full_name, language, password_hash, email_verified_at, is_operator, created_at"


def _account(row: asyncpg.Record | None) -> Account | None:
    return Account(**dict(row)) if row is not None else None


class LoginTaken(Exception):
    pass


class EmailTaken(Exception):
    pass


async def insert_account(
    conn: Connection,
    *,
    login: str,
    email: str,
    full_name: str | None,
    language: str,
    password_hash: str,
    now: datetime,
    is_operator: bool = False,
) -> Account:
    try:
        row = await conn.fetchrow(
            f"INSERT INTO accounts (id, login, email, full_name, language, password_hash, is_operator, "
            f"created_at, password_changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) "
            f"RETURNING {ACCOUNT_COLUMNS}",
            uuid.uuid4(),
            login,
            email,
            full_name,
            language,
            password_hash,
            is_operator,
            now,
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "accounts_login_key":
            raise LoginTaken from None
        raise EmailTaken from None
    account = _account(row)
    assert account is not None
    return account


async def account_by_id(conn: Connection, account_id: uuid.UUID) -> Account | None:
    return _account(await conn.fetchrow(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1", account_id))


async def account_by_login(conn: Connection, login: str) -> Account | None:
    return _account(
        await conn.fetchrow(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE lower(login) = lower($1)", login)
    )


async def account_by_email(conn: Connection, email: str) -> Account | None:
    return _account(
        await conn.fetchrow(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE lower(email) = lower($1)", email)
    )


async def set_password(conn: Connection, account_id: uuid.UUID, password_hash: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE accounts SET password_hash = $2, password_changed_at = $3 WHERE id = $1",
        account_id,
        password_hash,
        now,
    )


async def set_full_name(conn: Connection, account_id: uuid.UUID, full_name: str | None) -> Account | None:
    return _account(
        await conn.fetchrow(
            f"UPDATE accounts SET full_name = $2 WHERE id = $1 RETURNING {ACCOUNT_COLUMNS}", account_id, full_name
        )
    )


async def account_for_update(conn: Connection, account_id: uuid.UUID) -> Account | None:
    return _account(await conn.fetchrow(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 FOR UPDATE", account_id))


async def replace_email(conn: Connection, account_id: uuid.UUID, email: str, now: datetime) -> Account:
    """The account's address is `email` from now on, verified (its link reached it); EmailTaken if another account
    uses it."""
    try:
        row = await conn.fetchrow(
            f"UPDATE accounts SET email = $2, email_verified_at = $3 WHERE id = $1 RETURNING {ACCOUNT_COLUMNS}",
            account_id,
            email,
            now,
        )
    except asyncpg.UniqueViolationError:
        raise EmailTaken from None
    account = _account(row)
    assert account is not None
    return account


# ---- single-use link tokens (e-mail verification, password reset) -------------------------


async def insert_email_verification(
    conn: Connection, account_id: uuid.UUID, email: str, token_hash: bytes, now: datetime, expires_at: datetime
) -> None:
    # Only the newest link works: a resend voids the earlier ones.
    await conn.execute(
        "UPDATE email_verifications SET voided_at = $2 WHERE account_id = $1 AND used_at IS NULL AND voided_at IS NULL",
        account_id,
        now,
    )
    await conn.execute(
        "INSERT INTO email_verifications (token_hash, account_id, email, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        token_hash,
        account_id,
        email,
        now,
        expires_at,
    )


async def count_email_verifications_since(conn: Connection, account_id: uuid.UUID, since: datetime) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM email_verifications WHERE account_id = $1 AND created_at >= $2", account_id, since
    )
    return count


async def use_email_verification(conn: Connection, token_hash: bytes, now: datetime) -> Account | None:
    """Mark the token used and the address verified; None if unknown, used, voided or expired (rule ACC-2)."""
    row = await conn.fetchrow(
        "UPDATE email_verifications SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL "
        "AND voided_at IS NULL AND expires_at > $2 RETURNING account_id, email",
        token_hash,
        now,
    )
    if row is None:
        return None
    return _account(
        await conn.fetchrow(
            f"UPDATE accounts SET email_verified_at = coalesce(email_verified_at, $3) "
            f"WHERE id = $1 AND lower(email) = lower($2) RETURNING {ACCOUNT_COLUMNS}",
            row["account_id"],
            row["email"],
            now,
        )
    )


async def insert_password_reset(
    conn: Connection, account_id: uuid.UUID, token_hash: bytes, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        "UPDATE password_resets SET voided_at = $2 WHERE account_id = $1 AND used_at IS NULL AND voided_at IS NULL",
        account_id,
        now,
    )
    await conn.execute(
        "INSERT INTO password_resets (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        token_hash,
        account_id,
        now,
        expires_at,
    )


async def count_password_resets_since(conn: Connection, account_id: uuid.UUID, since: datetime) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM password_resets WHERE account_id = $1 AND created_at >= $2", account_id, since
    )
    return count


async def valid_password_reset(conn: Connection, token_hash: bytes, now: datetime) -> uuid.UUID | None:
    account_id: uuid.UUID | None = await conn.fetchval(
        "SELECT account_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND voided_at IS NULL "
        "AND expires_at > $2",
        token_hash,
        now,
    )
    return account_id


async def use_password_reset(conn: Connection, token_hash: bytes, now: datetime) -> uuid.UUID | None:
    account_id: uuid.UUID | None = await conn.fetchval(
        "UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND voided_at IS NULL "
        "AND expires_at > $2 RETURNING account_id",
        token_hash,
        now,
    )
    return account_id


async def void_open_links(conn: Connection, account_id: uuid.UUID, now: datetime) -> None:
    """Verification and password-reset links sent to the account's earlier address work no more."""
    for table in ("email_verifications", "password_resets"):
        await conn.execute(
            f"UPDATE {table} SET voided_at = $2 WHERE account_id = $1 AND used_at IS NULL AND voided_at IS NULL",
            account_id,
            now,
        )


async def mark_email_verified(conn: Connection, account_id: uuid.UUID, now: datetime) -> None:
    """The address verified without a link: an operator made the account, or an invitation's link reached it."""
    await conn.execute(
        "UPDATE accounts SET email_verified_at = coalesce(email_verified_at, $2) WHERE id = $1", account_id, now
    )


async def make_operator(conn: Connection, account_id: uuid.UUID) -> None:
    await conn.execute("UPDATE accounts SET is_operator = true WHERE id = $1", account_id)


# The directory, whole (re-announcing it: services.identity.republish).
async def all_accounts(conn: Connection) -> list[Account]:
    rows = await conn.fetch(f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at")
    return [Account(**dict(row)) for row in rows]
