"""identity's access tokens: a standard JWS that PyJWT, which every service verifies with, accepts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.identity.tokens import SigningKeys, access_token_claims


def _claims() -> dict[str, Any]:
    return access_token_claims(
        account_id=uuid.uuid4(),
        scopes=[],
        now=datetime.now(UTC),
        issuer="https://its.example/identity",
        audience="its",
        login="ivanova",
        subscriber={"id": str(uuid.uuid4()), "code": "CL-0001", "role": "owner", "rights": ["its", "users"]},
    )


def test_a_signed_token_verifies_with_pyjwt_and_names_its_key() -> None:
    keys, key = SigningKeys(), Ed25519PrivateKey.generate()
    keys.keep("k1", key)
    claims = _claims()
    token = keys.sign(claims)
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": "k1", "typ": "JWT"}
    decoded = jwt.decode(token, key.public_key(), algorithms=["EdDSA"], audience="its", issuer=claims["iss"])
    assert decoded == claims
    assert "=" not in token  # base64url without padding


def test_the_newest_key_signs_and_another_key_does_not_verify() -> None:
    keys, old, new = SigningKeys(), Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    keys.keep("old", old)
    keys.keep("new", new)
    token = keys.sign(_claims())
    assert jwt.get_unverified_header(token)["kid"] == "new"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, old.public_key(), algorithms=["EdDSA"], audience="its")
