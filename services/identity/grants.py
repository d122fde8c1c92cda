"""The OAuth 2.0 grants identity answers (ACC-3: client programs log in with login and password, no browser): a
person for a subscriber (SUB-7) or for a partner, a partner's system, a refresh; and logging out.

Every token is stamped after the grant it carries was read under a share lock (shared.revocations)."""

from __future__ import annotations

import asyncio
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.identity import domain, store, subscribers_store, tokens_store
from services.identity.domain import ThrottlePolicy
from services.identity.logins import LoginAttempt, admit_login
from services.identity.partner_clients import secret_hash
from services.identity.partners_store import client_for_token, staff_for_token
from services.identity.passwords import Passwords
from services.identity.settings import IdentitySettings
from services.identity.tokens import ACCESS_TOKEN_TTL, SigningKeys, access_token_claims
from shared.clock import Clock
from shared.db import Pool

EXPIRES_IN = int(ACCESS_TOKEN_TTL.total_seconds())


class GrantRefused(Exception):
    """RFC 6749 §5.2: the grant is refused; `error` is the OAuth error code, `description` says why."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


@dataclass(frozen=True)
class Issued:
    access_token: str
    scope: str
    refresh_token: str | None = None  # none for a partner (RFC 6749 §4.4.3: client_credentials)
    expires_in: int = EXPIRES_IN


@dataclass(frozen=True)
class Issuer:
    """Signs the access tokens identity issues, for the audience and with the lifetimes of its settings."""

    keys: SigningKeys
    settings: IdentitySettings
    clock: Clock

    def access_token(
        self,
        now: datetime,
        *,
        account_id: uuid.UUID,
        scopes: list[str],
        login: str | None = None,
        subscriber: dict[str, Any] | None = None,
        partner_id: uuid.UUID | None = None,
        partner_admin: bool = False,
    ) -> str:
        """`now` taken after the grant was read under its share lock (shared.revocations)."""
        return self.keys.sign(
            access_token_claims(
                account_id=account_id,
                scopes=scopes,
                now=now,
                issuer=self.settings.jwt_issuer,
                audience=self.settings.jwt_audience,
                login=login,
                subscriber=subscriber,
                partner_id=partner_id,
                partner_admin=partner_admin,
            )
        )

    def for_member(
        self, account: store.Account, membership: subscribers_store.Membership, *, family_id: uuid.UUID
    ) -> tuple[Issued, tokens_store.NewRefreshToken]:
        """An access token and a refresh token for `account` acting for `membership`'s subscriber; the caller
        stores the refresh token's row."""
        now = self.clock.now()
        scopes = ["operator"] if account.is_operator else []
        access = self.access_token(
            now,
            account_id=account.id,
            login=account.login,
            scopes=scopes,
            subscriber={
                "id": str(membership.subscriber_id),
                "code": membership.code,
                "role": membership.role,
                "rights": domain.member_rights(membership.role, membership.its_access),
            },
        )
        refresh = domain.new_token()
        row = tokens_store.NewRefreshToken(
            token_hash=domain.token_hash(refresh),
            family_id=family_id,
            account_id=account.id,
            subscriber_id=membership.subscriber_id,
            created_at=now,
            expires_at=now + timedelta(days=self.settings.refresh_token_days),
        )
        return Issued(access, " ".join(scopes), refresh), row


@dataclass(frozen=True)
class PasswordLogin:
    """A person logging in with login and password (ACC-3), from a client address (throttled per address too)."""

    username: str
    password: str
    address: str


async def password_grant(
    pool: Pool,
    passwords: Passwords,
    policy: ThrottlePolicy,
    issuer: Issuer,
    login: PasswordLogin,
    subscriber: str | None,
) -> Issued:
    """Rule ACC-3, and SUB-7: the token acts for one subscriber, the account's own unless named."""
    clock = issuer.clock
    account, membership, attempt, ok = await _check_password(pool, passwords, policy, clock, login, subscriber)
    tokens, refresh = (None, None)
    async with pool.acquire() as conn, conn.transaction():
        if ok and account is not None and membership is not None:
            # Read again under a share lock, the token stamped after it: a change of the member made meanwhile
            # either shows in it or refuses it (shared.revocations).
            granted = await subscribers_store.membership(conn, account.id, membership.subscriber_id, for_token=True)
            if granted is not None:
                tokens, refresh = issuer.for_member(account, granted, family_id=uuid.uuid4())
        await tokens_store.record_login_attempt(conn, attempt.login_key, attempt.address, clock.now(), ok, refresh)
    if not ok or account is None:
        raise GrantRefused("invalid_grant", "the login or password is wrong")
    if tokens is None:
        raise GrantRefused("invalid_grant", f"this account is not a member of subscriber {subscriber}")
    if passwords.needs_rehash(account.password_hash):
        new_hash = await passwords.hash(login.password)
        async with pool.acquire() as conn:
            await store.set_password(conn, account.id, new_hash, clock.now())
    return tokens


async def partner_staff_grant(
    pool: Pool,
    passwords: Passwords,
    policy: ThrottlePolicy,
    issuer: Issuer,
    login: PasswordLogin,
    partner_id: uuid.UUID,
) -> Issued:
    """A partner's staff member logs in for the partner: scope `partner`, no subscriber.

    Only an access token: a partner session starts from the password again after 15 minutes.
    """
    clock = issuer.clock
    account, _, attempt, ok = await _check_password(pool, passwords, policy, clock, login, None)
    access = None
    async with pool.acquire() as conn, conn.transaction():
        await tokens_store.record_login_attempt(conn, attempt.login_key, attempt.address, clock.now(), ok)
        # Under a share lock of the staff membership and the partner, the token stamped after it.
        staff = await staff_for_token(conn, partner_id, account.id) if ok and account else None
        if account is not None and staff is not None and staff.partner_active:
            access = issuer.access_token(
                clock.now(),
                account_id=account.id,
                login=account.login,
                scopes=["partner"],
                partner_id=partner_id,
                partner_admin=staff.is_admin,
            )
    if not ok or account is None:
        raise GrantRefused("invalid_grant", "the login or password is wrong")
    if staff is None:
        raise GrantRefused("invalid_grant", "this account is not on the staff of that partner")
    if access is None:
        raise GrantRefused("invalid_grant", "that partner is deactivated")
    return Issued(access, "partner")


async def client_credentials_grant(pool: Pool, issuer: Issuer, client_id: str, secret: str) -> Issued:
    """A partner system's token (RFC 6749 §4.4)."""
    try:
        parsed_id: uuid.UUID | None = uuid.UUID(client_id)
    except ValueError:
        parsed_id = None
    given = secret_hash(secret)
    async with pool.acquire() as conn, conn.transaction():
        # Under a share lock of the client and its partner, the token stamped after it.
        found = await client_for_token(conn, parsed_id) if parsed_id else None
        # Compared in constant time; an unknown client compares against a dummy so both take the same time.
        expected = found[1] if found else secret_hash("no such client")
        if not hmac.compare_digest(given, expected) or found is None:
            raise GrantRefused(
                "invalid_client", "the client is unknown, revoked, its partner deactivated or its secret is wrong"
            )
        client = found[0]
        access = issuer.access_token(
            issuer.clock.now(), account_id=client.id, scopes=["partner"], partner_id=client.partner_id
        )
    return Issued(access, "partner")


async def refresh_grant(pool: Pool, issuer: Issuer, refresh_token: str, subscriber: str | None) -> Issued:
    """Rotation; the new tokens carry the member's current role and rights, and none after exclusion (SUB-6).

    With `subscriber`, the new tokens act for that subscriber of the same account (SUB-7): switching between
    one's subscribers needs no password again, as a login already proved who holds the refresh token.
    """
    now = issuer.clock.now()
    async with pool.acquire() as conn, conn.transaction():
        use = await tokens_store.use_refresh_token(conn, domain.token_hash(refresh_token), now)
        if use.reused_family is not None:
            # A rotated token came back: someone holds a copy. Revoke the whole family.
            await tokens_store.revoke_family(conn, use.reused_family, now)
        tokens = None
        if use.account_id and use.family_id and use.subscriber_id:
            account = await store.account_by_id(conn, use.account_id)
            # Under a share lock, the token stamped after it.
            membership = await subscribers_store.membership(
                conn, use.account_id, subscriber or use.subscriber_id, for_token=True
            )
            if subscriber is not None and account is not None and membership is None:
                # The grant is good, the subscriber asked for is not the account's (`invalid_scope`, RFC 6749
                # §5.2). Raised inside the transaction: the refresh token stays unused and the session goes on.
                raise GrantRefused("invalid_scope", f"this account is not a member of subscriber {subscriber}")
            if account is not None and membership is not None:
                # The new refresh token commits with the old one's use: a crash in between loses neither.
                tokens, refresh = issuer.for_member(account, membership, family_id=use.family_id)
                await tokens_store.insert_refresh_token(conn, refresh)
    if tokens is None:
        raise GrantRefused("invalid_grant", "the refresh token is invalid, expired or revoked")
    return tokens


async def revoke_refresh_token(pool: Pool, clock: Clock, token: str) -> None:
    """Logging out (RFC 7009): the refresh token's family is revoked; an unknown token changes nothing."""
    async with pool.acquire() as conn:
        await tokens_store.revoke_token_family(conn, domain.token_hash(token), clock.now())


async def _check_password(
    pool: Pool,
    passwords: Passwords,
    policy: ThrottlePolicy,
    clock: Clock,
    login: PasswordLogin,
    subscriber: str | None,
) -> tuple[store.Account | None, subscribers_store.Membership | None, LoginAttempt, bool]:
    """The account and its membership of `subscriber` (its own when None), the attempt once admitted (throttling
    refuses: too-often), and whether the password is right. Recording the attempt is the caller's."""
    # Round trips are few on purpose: the hash should be nearly all of a login's time.
    attempt = LoginAttempt.of(login.username, login.address)
    (account, membership), _ = await asyncio.gather(
        _account_and_membership(pool, login.username, subscriber), admit_login(pool, policy, clock, attempt)
    )
    ok = await passwords.verify(account.password_hash if account else None, login.password)
    return account, membership, attempt, ok


async def _account_and_membership(
    pool: Pool, login: str, subscriber: str | None
) -> tuple[store.Account | None, subscribers_store.Membership | None]:
    async with pool.acquire() as conn:
        return await subscribers_store.account_and_membership_by_login(conn, login, subscriber)
