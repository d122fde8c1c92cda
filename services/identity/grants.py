"""The OAuth 2.0 grants identity answers (ACC-3: client programs log in with login and password, no browser): a
person for a subscriber (SUB-7) or for a partner, a partner's system, a refresh; and logging out.

Every token is stamped after the grant it carries was read under a share lock, or, at a login, just before a
statement that reads it under that lock and finds the member's row unchanged since the login first read it; either
way no change of the grant is stamped before the token and committed unseen by it (shared.revocations)."""

from __future__ import annotations

import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rules.refusal import Refused
from services.identity import domain, store, subscribers_store, tokens_store
from services.identity.domain import ThrottlePolicy
from services.identity.known_logins import KnownLogin, KnownLogins
from services.identity.logins import LoginAttempt, refuse_if_throttled
from services.identity.partner_clients import secret_hash
from services.identity.partners_store import client_for_token, staff_for_token
from services.identity.passwords import Passwords
from services.identity.settings import IdentitySettings
from services.identity.tokens import ACCESS_TOKEN_TTL, SigningKeys, access_token_claims
from shared.clock import Clock
from shared.db import Connection, Pool

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
        self,
        account: store.Account,
        membership: subscribers_store.Membership,
        *,
        family_id: uuid.UUID,
        now: datetime,
    ) -> tuple[Issued, tokens_store.NewRefreshToken]:
        """An access token stamped `now` and a refresh token for `account` acting for `membership`'s subscriber;
        the caller stores the refresh token's row."""
        refresh, row = self.refresh_token(account, membership, family_id=family_id, now=now)
        return self.member_tokens(account, membership, refresh, now=now), row

    def refresh_token(
        self, account: store.Account, membership: subscribers_store.Membership, *, family_id: uuid.UUID, now: datetime
    ) -> tuple[str, tokens_store.NewRefreshToken]:
        """A new refresh token of the member and the row that keeps its hash."""
        refresh = domain.new_token()
        row = tokens_store.NewRefreshToken(
            token_hash=domain.token_hash(refresh),
            family_id=family_id,
            account_id=account.id,
            subscriber_id=membership.subscriber_id,
            created_at=now,
            expires_at=now + timedelta(days=self.settings.refresh_token_days),
        )
        return refresh, row

    def member_tokens(
        self, account: store.Account, membership: subscribers_store.Membership, refresh: str, *, now: datetime
    ) -> Issued:
        """The member's access token, stamped `now`, beside its refresh token."""
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
        return Issued(access, " ".join(scopes), refresh)


@dataclass(frozen=True)
class PasswordLogin:
    """A person logging in with login and password (ACC-3), from a client address (throttled per address too)."""

    username: str
    password: str
    address: str


async def password_grant(
    pool: Pool,
    passwords: Passwords,
    known_logins: KnownLogins,
    policy: ThrottlePolicy,
    issuer: Issuer,
    login: PasswordLogin,
    subscriber: str | None,
) -> Issued:
    """Rule ACC-3, and SUB-7: the token acts for one subscriber, the account's own unless named.

    A member's login is recorded, its refresh token kept, while the password is checked (_member_login): a right
    password is answered as soon as its hash is done; a wrong one turns the attempt into a failure, and drops the
    token, before it is refused.

    One connection carries both statements, the read before the hash and the record beside it, and goes back to
    the pool before the hash is awaited: a login costs the loop one acquisition and no tasks of its own.

    A member whose login succeeded lately in this process (known_logins) goes faster: the hash starts at once,
    against the hash verified then, and one statement both reads the account and records the login
    (_known_member_login). The read must show the same hash, or the password is verified again against the one
    read; the record is made only if nothing changed. A right password keeps the login known; any refusal, or
    failure, forgets it."""
    clock = issuer.clock
    attempt = LoginAttempt.of(login.username, login.address)
    login_key = attempt.login_key
    known = known_logins.get(login_key)
    known_hash = known.account.password_hash if known is not None else None
    checking_known = passwords.verifying(known_hash, login.password) if known is not None else None
    member: tuple[tokens_store.MemberLogin, Issued, bytes] | None = None
    try:
        async with pool.acquire() as conn:
            read_at = time.monotonic()
            if known is not None and known.subscriber == subscriber:
                candidate, member = await _known_member_login(conn, policy, issuer, attempt, login, known)
            else:
                candidate = await _login_candidate(conn, policy, clock, login, attempt, subscriber)
            account, membership, member_version = candidate.account, candidate.membership, candidate.member_version
            stored = account.password_hash if account else None
            if checking_known is not None and stored == known_hash:
                checking = checking_known
            else:
                checking = passwords.verifying(stored, login.password)
            if member is None and account is not None and membership is not None and member_version is not None:
                member = await _member_login(conn, issuer, attempt, account, membership, member_version)
        ok = await checking
        if member is None:
            async with pool.acquire() as conn:
                await tokens_store.record_login_attempt(conn, attempt.login_key, attempt.address, clock.now(), ok)
            if not ok or account is None:
                raise GrantRefused("invalid_grant", "the login or password is wrong")
            raise GrantRefused("invalid_grant", f"this account is not a member of subscriber {subscriber}")
        assert account is not None and membership is not None and member_version is not None
        made, tokens, refresh_hash = member
        if not ok:
            async with pool.acquire() as conn:
                await tokens_store.record_wrong_password(conn, made, refresh_hash)
            raise GrantRefused("invalid_grant", "the login or password is wrong")
        if not made.kept:  # the member changed since it was read: the tokens are made as a refresh makes them
            remade = await _member_tokens_now(pool, issuer, account, membership.subscriber_id)
            if remade is None:  # excluded meanwhile
                raise GrantRefused("invalid_grant", f"this account is not a member of subscriber {subscriber}")
            known_logins.forget(login_key)
            return remade
        if passwords.needs_rehash(account.password_hash):
            password_hash = await passwords.hash(login.password)
            async with pool.acquire() as conn:
                await store.set_password(conn, account.id, password_hash, clock.now())
            known_logins.forget(login_key)  # the account's row changed: the next login reads it first
            return tokens
    except BaseException:
        known_logins.forget(login_key)
        raise
    assert candidate.account_version is not None
    known_logins.remember(
        login_key, KnownLogin(subscriber, account, membership, candidate.account_version, member_version, read_at)
    )
    return tokens


async def _known_member_login(
    conn: Connection,
    policy: ThrottlePolicy,
    issuer: Issuer,
    attempt: LoginAttempt,
    login: PasswordLogin,
    known: KnownLogin,
) -> tuple[subscribers_store.LoginCandidate, tuple[tokens_store.MemberLogin, Issued, bytes] | None]:
    """The login of a member `known` from an earlier login, while the password is checked: its tokens, stamped
    before one statement that reads the account as _login_candidate does and, if the account's and the member's
    rows are still the versions `known` read, records the attempt as a success and keeps the refresh token
    (subscribers_store.record_known_login). The tokens carry what `known` read, which is then what the rows hold,
    as in _member_login. Otherwise nothing was recorded, and the login goes on from what was read (None).

    Throttling is judged on the counts read in that statement, after it: a login found throttled then is taken
    back (tokens_store.unrecord_login) before it is refused, and its login is no longer known."""
    now = issuer.clock.now()
    refresh, row = issuer.refresh_token(known.account, known.membership, family_id=uuid.uuid4(), now=now)
    read = await subscribers_store.record_known_login(
        conn,
        login.username,
        known.subscriber,
        login_key=attempt.login_key,
        client_addr=attempt.address,
        policy=policy,
        token=row,
        account_version=known.account_version,
        member_version=known.member_version,
    )
    try:
        refuse_if_throttled(read.candidate.failures, policy, issuer.clock)
    except Refused:
        if read.attempt_id is not None:
            await tokens_store.unrecord_login(conn, read.attempt_id, row.token_hash)
        raise
    if read.attempt_id is None:
        return read.candidate, None
    tokens = issuer.member_tokens(known.account, known.membership, refresh, now=now)
    return read.candidate, (tokens_store.MemberLogin(read.attempt_id, kept=True), tokens, row.token_hash)


async def _member_login(
    conn: Connection,
    issuer: Issuer,
    attempt: LoginAttempt,
    account: store.Account,
    membership: subscribers_store.Membership,
    member_version: str,
) -> tuple[tokens_store.MemberLogin, Issued, bytes]:
    """While the password is checked: the member's tokens, stamped before one statement that records the attempt as
    a success, reads the membership again under a share lock and keeps the refresh token only if the member's row
    is the version read before (tokens_store.record_member_login). Then no change came between, and any later one
    stamps its time after that lock (shared.revocations): the token carries the grant as it stood at its stamp, and
    a change after it refuses the token as it refuses any other. Made during the hash, the login needs no round trip
    after it; the token's secret is given out only once the password is found right.

    Recorded as a success before the password is known, which throttling can afford: its counts are read before the
    hash and an attempt is settled after it, so attempts made meanwhile were never held back by this one's failure;
    until a wrong password is recorded as the failure it is, it makes the address known (ThrottlePolicy) to those
    alone. A crash in between would leave it a success."""
    now = issuer.clock.now()
    refresh, row = issuer.refresh_token(account, membership, family_id=uuid.uuid4(), now=now)
    # The statement first: while the loop waits for it, the hashing thread takes the GIL and starts.
    made = await tokens_store.record_member_login(conn, attempt.login_key, attempt.address, row, member_version)
    return made, issuer.member_tokens(account, membership, refresh, now=now), row.token_hash


async def _member_tokens_now(
    pool: Pool, issuer: Issuer, account: store.Account, subscriber_id: uuid.UUID
) -> Issued | None:
    """The member's tokens as a refresh makes them: the membership read under a share lock in a transaction, the
    token stamped after it; None if no longer a member."""
    async with pool.acquire() as conn, conn.transaction():
        granted = await subscribers_store.membership(conn, account.id, subscriber_id, for_token=True)
        if granted is None:
            return None
        tokens, refresh = issuer.for_member(account, granted, family_id=uuid.uuid4(), now=issuer.clock.now())
        await tokens_store.insert_refresh_token(conn, refresh)
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
    attempt = LoginAttempt.of(login.username, login.address)
    async with pool.acquire() as conn:
        candidate = await _login_candidate(conn, policy, clock, login, attempt, None)
    account = candidate.account
    ok = await passwords.verify(account.password_hash if account else None, login.password)
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
                tokens, refresh = issuer.for_member(
                    account, membership, family_id=use.family_id, now=issuer.clock.now()
                )
                await tokens_store.insert_refresh_token(conn, refresh)
    if tokens is None:
        raise GrantRefused("invalid_grant", "the refresh token is invalid, expired or revoked")
    return tokens


async def revoke_refresh_token(pool: Pool, clock: Clock, token: str) -> None:
    """Logging out (RFC 7009): the refresh token's family is revoked; an unknown token changes nothing."""
    async with pool.acquire() as conn:
        await tokens_store.revoke_token_family(conn, domain.token_hash(token), clock.now())


async def _login_candidate(
    conn: Connection,
    policy: ThrottlePolicy,
    clock: Clock,
    login: PasswordLogin,
    attempt: LoginAttempt,
    subscriber: str | None,
) -> subscribers_store.LoginCandidate:
    """The account and its membership of `subscriber` (its own when None), once `attempt` is admitted (throttling
    refuses: too-often). Recording the attempt is the caller's."""
    # Round trips are few on purpose: the hash should be nearly all of a login's time.
    candidate = await subscribers_store.login_candidate(
        conn,
        login.username,
        subscriber,
        login_key=attempt.login_key,
        client_addr=attempt.address,
        now=clock.now(),
        policy=policy,
    )
    refuse_if_throttled(candidate.failures, policy, clock)
    return candidate
