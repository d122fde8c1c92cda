"""Access tokens for tests of services other than identity: signed with a test key of our own,
verified by the service's real TokenVerifier (identity's own tests use identity's real keys)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ISSUER = "its-identity"
AUDIENCE = "its-portal"


class TestKeys:
    """A KeySource (shared.auth) holding one Ed25519 key."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.private_key = Ed25519PrivateKey.generate()
        self.kid = uuid.uuid4().hex

    async def key(self, kid: str) -> Any:
        from shared.problems import Unauthorized

        if kid != self.kid:
            raise Unauthorized("the token is signed with an unknown key")
        return self.private_key.public_key()

    def token(
        self,
        *,
        account_id: uuid.UUID | None = None,
        scope: str = "",
        ttl: int = 900,
        now: float | None = None,
        **claims: Any,
    ) -> str:
        issued = int(now if now is not None else time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(account_id or uuid.uuid4()),
            "iat": issued,
            "exp": issued + ttl,
            "scope": scope,
            **claims,
        }
        return jwt.encode(payload, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})
