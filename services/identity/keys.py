"""What identity keeps on its application besides the kernel's (`shared.keys`): its settings, the password
hasher, the token signing keys, the login throttling policy, the members' recent logins, the accounts kept for
`GET /v1/me` and the token endpoint's counter."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import Counter

from services.identity.accounts_kept import AccountsKept
from services.identity.domain import ThrottlePolicy
from services.identity.known_logins import KnownLogins
from services.identity.passwords import Passwords
from services.identity.settings import IdentitySettings
from services.identity.tokens import SigningKeys

SETTINGS = web.AppKey("settings", IdentitySettings)
PASSWORDS = web.AppKey("passwords", Passwords)
KEYS = web.AppKey("signing_keys", SigningKeys)
THROTTLE = web.AppKey("throttle", ThrottlePolicy)
KNOWN_LOGINS = web.AppKey("known_logins", KnownLogins)  # grants.password_grant's members who logged in lately
ACCOUNTS_KEPT = web.AppKey("accounts_kept", AccountsKept)
GRANTS = web.AppKey("token_grants", Counter)  # identity_token_grants_total{grant_type, outcome}
