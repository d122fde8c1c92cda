"""The demo catalogue for the local stack (`make run`); idempotent, refused in production.

python -m devtools.demo.registration

Logs in at identity as the demo operator (loaded by devtools.demo.identity) and imports
demo_catalogue.yaml through the very code of `itsctl catalogue import`. Then, once, the demo partner
(made by devtools.demo.identity) authorises an Accounting PROF for the demo customer (REG-5), bought
today: its free period (ITS-7) lets the README's client-program flow download updates at once.
"""

from __future__ import annotations

import asyncio
import base64
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from devtools.demo.identity import DEMO_ACCOUNTS, DEMO_PARTNER
from itsctl._http import (
    CALL_ERRORS,
    Api,
    Credentials,
    ServiceError,
    error_message,
    log_in,
    operator_session,
    service_url,
)
from itsctl.catalogue import ImportSummary, import_catalogue, load_catalogue
from services.registration.public import RegistrationSettings, republish_registration

CATALOGUE = Path(__file__).parent / "data" / "registration" / "demo_catalogue.yaml"
# The demo operator of devtools.demo.identity: operator / operator-password-2026.
OPERATOR = next(Credentials(login=a[0], password=a[1]) for a in DEMO_ACCOUNTS if a[4])
CUSTOMER = next(Credentials(login=a[0], password=a[1]) for a in DEMO_ACCOUNTS if not a[4])
DEMO_ARTICLE = "4601546041807"  # Accounting PROF in demo_catalogue.yaml


async def register_demo_product(settings: RegistrationSettings) -> str | None:
    """The demo customer's Accounting PROF, authorised by a demo partner; None if it has one already."""
    async with operator_session(OPERATOR) as operator:
        assert CUSTOMER.login is not None and CUSTOMER.password is not None
        customer_token = await log_in(operator.http, service_url("identity"), CUSTOMER.login, CUSTOMER.password)
        customer = Api(operator.http, "registration", service_url("registration"), customer_token)
        _, registrations = await customer.call("GET", "/v1/registrations")
        if registrations["items"]:
            return None
        identity = operator.api("identity")
        _, subscriber = await Api(operator.http, "identity", service_url("identity"), customer_token).call(
            "GET", "/v1/subscriber"
        )
        _, partners = await identity.call("GET", "/v1/partners?" + urlencode({"q": DEMO_PARTNER}))  # demo.identity
        partner = next(p for p in partners["items"] if p["name"] == DEMO_PARTNER)
        _, client = await identity.call("POST", f"/v1/partners/{partner['id']}/clients", {"name": "demo back office"})
        _, issued = await operator.api("registration").call(
            "POST", f"/v1/products/{DEMO_ARTICLE}/registration-numbers", {"count": 1, "with_pin": False}
        )
        number = issued["items"][0]["registration_number"]
        basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
        async with operator.http.post(
            f"{service_url('identity')}/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        ) as response:
            partner_token = (await response.json())["access_token"]
        today = datetime.now(ZoneInfo(settings.vendor_timezone)).date()
        body = {"registration_number": number, "subscriber_code": subscriber["code"], "purchase_date": str(today)}
        partner_api = Api(operator.http, "registration", service_url("registration"), partner_token)
        for attempt in range(40):  # until registration has learnt the new partner from identity's event
            try:
                await partner_api.call("POST", "/v1/registrations/partner", body)
                return str(number)
            except ServiceError:
                if attempt == 39:
                    raise
                await asyncio.sleep(0.5)
        return None


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
    try:
        number = asyncio.run(register_demo_product(RegistrationSettings()))
    except CALL_ERRORS as exc:
        sys.exit(f"demo registration not made: {error_message(exc)}")
    if number:
        print(f"demo: Accounting PROF {number} authorised for the demo customer by Demo Partner")
    # Services added since this database was made learn the numbers and registrations they missed.
    asyncio.run(republish_registration(RegistrationSettings()))


if __name__ == "__main__":
    main()
