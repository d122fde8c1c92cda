"""What outsiders may use of registration: itsctl, devtools' demo data and the benchmarks import this module only.

When registration's insides move, this is the one file to update. itsctl imports it when it starts, so the
heavier modules (the app, republishing) are imported only when their function is called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from services.registration.domain import is_ean13, new_pin, new_registration_number
from services.registration.pins import MEMORY_KIB, PARALLELISM, TIME_COST, pin_hasher
from services.registration.settings import RegistrationSettings

if TYPE_CHECKING:
    from services.registration.republish import Republished

__all__ = [
    "MEMORY_KIB",
    "PARALLELISM",
    "TIME_COST",
    "RegistrationSettings",
    "database",
    "is_ean13",
    "new_pin",
    "new_registration_number",
    "pin_hasher",
    "republish_registration",
]


def database() -> tuple[Path, str]:
    """registration's migrations and its schema: what a throwaway database (the benchmarks) is migrated with."""
    from services.registration import app

    return app.MIGRATIONS, app.SCHEMA


async def republish_registration(settings: RegistrationSettings) -> Republished:
    """Every number, product and registration announced again, for services that missed them (idempotent)."""
    from services.registration import republish

    return await republish.republish_registration(settings)
