"""Access tokens: JWTs signed with Ed25519 (EdDSA), keys kept in identity's schema, published as JWKS."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from services.identity import tokens_store
from shared.db import Pool
from shared.problems import Unauthorized
from shared.revocations import micros

ACCESS_TOKEN_TTL = timedelta(minutes=15)
# Serialises key creation between replicas starting at once.
KEY_CREATION_LOCK = 0x17_5_1D


class SigningKeys:
    """Signs access tokens with the newest key; verifies with any active one (a KeySource)."""

    def __init__(self) -> None:
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._headers: dict[str, bytes] = {}  # each key's JWS header, encoded once
        self._public_jwks: list[dict[str, Any]] = []
        self._current_kid = ""

    async def load(self, pool: Pool, now: datetime) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", KEY_CREATION_LOCK)
            rows = await tokens_store.active_signing_keys(conn)
            if not rows:
                kid, pem, jwk = _new_key()
                await tokens_store.insert_signing_key(conn, kid, pem, jwk, now)
                rows = await tokens_store.active_signing_keys(conn)
        for row in reversed(rows):  # the newest last: it signs
            key = serialization.load_pem_private_key(row["private_pem"].encode(), password=None)
            assert isinstance(key, Ed25519PrivateKey)
            self.keep(row["kid"], key)
        self._public_jwks = [row["public_jwk"] for row in rows]

    def keep(self, kid: str, key: Ed25519PrivateKey) -> None:
        """Verify with `key` from now on, and sign with it: the key kept last is the newest."""
        self._private[kid] = key
        self._headers[kid] = _base64url(orjson.dumps({"alg": "EdDSA", "kid": kid, "typ": "JWT"}))
        self._current_kid = kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": self._public_jwks}

    async def key(self, kid: str) -> Ed25519PublicKey:
        if kid not in self._private:
            raise Unauthorized("the token is signed with an unknown key")
        return self._private[kid].public_key()

    def sign(self, claims: dict[str, Any]) -> str:
        """The JWS compact serialisation (RFC 7515 §7.1) of `claims`, signed with the newest key. Made here rather than
        by PyJWT's encode, whose general path (a header built and sorted each time, the standard library's JSON)
        cost nearly as much again as the Ed25519 signature itself (28 µs beside its 33), at every login and refresh.
        shared.auth verifies these tokens with PyJWT like any other."""
        kid = self._current_kid
        signing_input = self._headers[kid] + b"." + _base64url(orjson.dumps(claims))
        return (signing_input + b"." + _base64url(self._private[kid].sign(signing_input))).decode("ascii")


def _base64url(data: bytes) -> bytes:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def access_token_claims(
    *,
    account_id: uuid.UUID,
    scopes: list[str],
    now: datetime,
    issuer: str,
    audience: str,
    login: str | None = None,
    subscriber: dict[str, Any] | None = None,
    partner_id: uuid.UUID | None = None,
    partner_admin: bool = False,
) -> dict[str, Any]:
    """Claims of an access token: a person's (login, subscriber) or a partner system's (partner).

    `now` must be taken after the grant the token carries was read under a share lock (shared.revocations).
    """
    issued = int(now.timestamp())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": str(account_id),
        "iat": issued,
        # The issue time to the microsecond: a change in the same second refuses exactly the tokens before it.
        "iat_us": micros(now),
        "exp": issued + int(ACCESS_TOKEN_TTL.total_seconds()),
        "jti": uuid.uuid4().hex,
        "scope": " ".join(scopes),
    }
    if login is not None:
        claims["login"] = login
    if subscriber is not None:
        # Rule SUB-7: every request acts within one subscriber, named here (shared.auth.SubscriberClaim).
        claims["subscriber"] = subscriber
    if partner_id is not None:
        claims["partner"] = {"id": str(partner_id), "admin": partner_admin}
    # Who the caller is to the vendor: its staff, a partner (staff or system), or a customer.
    claims["role"] = "operator" if "operator" in scopes else "partner" if partner_id is not None else "customer"
    return claims


def _new_key() -> tuple[str, str, dict[str, Any]]:
    private = Ed25519PrivateKey.generate()
    kid = uuid.uuid4().hex
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    jwk: dict[str, Any] = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid=kid, alg="EdDSA", use="sig")
    return kid, pem, jwk
