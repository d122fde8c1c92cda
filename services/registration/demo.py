"""The demo catalogue for the local stack (`make run`); idempotent, refused in production.

python -m services.registration.demo

Logs in at identity as the demo operator (loaded by services.identity.demo) and imports
demo_catalogue.yaml through the very code of `itsctl catalogue import`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from itsctl._http import CALL_ERRORS, Credentials, error_message, operator_session
from itsctl.catalogue import ImportSummary, import_catalogue, load_catalogue
from services.identity.demo import DEMO_ACCOUNTS
from services.registration.republish import republish_registration
from services.registration.settings import RegistrationSettings

CATALOGUE = Path(__file__).parent / "demo_catalogue.yaml"
# The demo operator of services.identity.demo: operator / operator-password-2026.
OPERATOR = next(Credentials(login=a[0], password=a[1]) for a in DEMO_ACCOUNTS if a[4])


async def load_demo_catalogue(path: Path = CATALOGUE) -> ImportSummary:
    catalogue = load_catalogue(path)
    async with operator_session(OPERATOR) as operator:
        return await import_catalogue(operator.api("registration"), catalogue)


def main() -> None:
    if RegistrationSettings().is_production:
        sys.exit("demo data is not loaded in production")
    try:
        summary = asyncio.run(load_demo_catalogue())
    except CALL_ERRORS as exc:
        sys.exit(f"demo catalogue not loaded: {error_message(exc)}")
    print(f"demo catalogue ({CATALOGUE.name}): {summary.line()}")
    # Services added since this database was made learn the numbers and registrations they missed.
    asyncio.run(republish_registration(RegistrationSettings()))


if __name__ == "__main__":
    main()
