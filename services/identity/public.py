"""What outsiders may use of identity: itsctl, devtools' demo data and the benchmarks import this module only.

When identity's insides move, this is the one file to update. itsctl imports it inside its commands, so
it may import the service's heavier modules at once.
"""

from __future__ import annotations

from pathlib import Path

from services.identity import app
from services.identity.bootstrap import ensure_account, ensure_partner
from services.identity.domain import PasswordRejected
from services.identity.passwords import Passwords
from services.identity.republish import Republished, republish_directory
from services.identity.settings import IdentitySettings

__all__ = [
    "IdentitySettings",
    "PasswordRejected",
    "Passwords",
    "Republished",
    "database",
    "ensure_account",
    "ensure_partner",
    "republish_directory",
]


def database() -> tuple[Path, str]:
    """identity's migrations and its schema: what a throwaway database (the benchmarks) is migrated with."""
    return app.MIGRATIONS, app.SCHEMA
