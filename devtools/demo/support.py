"""The demo customer's questions (`make run`); idempotent, refused in production.

python -m devtools.demo.support

Once support knows that "Demo Partner" accompanies the demo customer's Accounting PROF (devtools.demo.contracts), the
demo customer asks through support's API, as the portal or a client program does: a question the demo partner's
admin takes and answers with the minutes spent; one answered, then closed and rated by the customer; and feedback
to the vendor. A question already asked (by its subject) is not asked again; each step not yet done is done.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any

import aiohttp

from devtools.demo.contracts import DemoProduct, demo_product, partner_token
from devtools.demo.identity import DEMO_PARTNER
from devtools.demo.registration import CUSTOMER
from devtools.demo.waiting import NotLearnt, wait_for_row
from itsctl._http import CALL_ERRORS, REQUEST_TIMEOUT, Api, error_message, log_in, service_url
from services.support.public import database
from shared.settings import BaseServiceSettings


@dataclass(frozen=True)
class DemoQuestion:
    kind: str  # consulting | feedback
    subject: str
    body: str
    answer: str | None = None  # the demo partner's, with `minutes` spent
    minutes: int = 0
    rating: tuple[int, str] | None = None  # closed by the customer and rated (score, comment)


DEMO_QUESTIONS = [
    DemoQuestion(
        "consulting",
        "How do I correct an invoice issued last quarter?",
        "We issued an invoice in **March** with the wrong VAT rate. Do we issue a corrective invoice, or change the "
        "original one?",
        answer="Issue a *corrective invoice* (Sales → Corrective invoices) based on the original one; do not edit the "
        "original: its period is closed.",
        minutes=25,
    ),
    DemoQuestion(
        "consulting",
        "Bank statement import fails with an encoding error",
        "Importing the bank statement file says `unknown encoding`. The file comes from our bank's client program.",
        answer="Choose *Windows-1251* as the file's encoding in the import settings, then import the file again.",
        minutes=40,
        rating=(5, "Quick and clear, thank you."),
    ),
    DemoQuestion(
        "feedback",
        "Please show the due date of each question in the list",
        "It would help to see when an answer is due without opening every question.",
    ),
]


async def wait_until_routed(settings: BaseServiceSettings, product: DemoProduct) -> None:
    """support has learnt the product (registration's events) and that Demo Partner accompanies it (contracts')."""
    _, schema = database()
    await wait_for_row(
        settings,
        f"SELECT 1 FROM {schema}.registered_products WHERE registration_number = $1",  # noqa: S608 - a constant
        product.registration_number,
        what=f"support learning the product {product.registration_number}",
    )
    await wait_for_row(
        settings,
        f"SELECT 1 FROM {schema}.contract_numbers c LEFT JOIN {schema}.partners p ON p.id = c.partner_id "  # noqa: S608
        "WHERE c.registration_number = $1 AND coalesce(p.name, c.partner_name) = $2",
        product.registration_number,
        DEMO_PARTNER,
        what=f"support learning that {DEMO_PARTNER} accompanies {product.registration_number}",
    )


async def ask_demo_questions(settings: BaseServiceSettings) -> list[str]:
    """The demo questions, each taken as far as it goes; the subjects of those asked now."""
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as http:
        product = await demo_product(http)
        await wait_until_routed(settings, product)
        assert CUSTOMER.login is not None and CUSTOMER.password is not None
        customer_token = await log_in(http, service_url("identity"), CUSTOMER.login, CUSTOMER.password)
        customer = Api(http, "support", service_url("support"), customer_token)
        partner = Api(http, "support", service_url("support"), await partner_token(http))
        _, mine = await customer.call("GET", "/v1/questions?limit=200")
        asked = {q["subject"]: q for q in mine["items"]}
        new: list[str] = []
        for demo in DEMO_QUESTIONS:
            question = asked.get(demo.subject)
            if question is None:
                question = await ask(customer, product, demo)
                new.append(demo.subject)
            await follow_up(customer, partner, demo, question)
    return new


async def ask(customer: Api, product: DemoProduct, demo: DemoQuestion) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": demo.kind, "subject": demo.subject, "body": demo.body}
    if demo.kind == "consulting":
        body |= {"registration_number": product.registration_number, "configuration": product.configuration}
    _, question = await customer.call("POST", "/v1/questions", body)
    if demo.kind == "consulting" and question["routed_to"]["name"] != DEMO_PARTNER:
        raise NotLearnt(f"the question went to {question['routed_to']['name']}, not {DEMO_PARTNER}")
    return dict(question)


async def follow_up(customer: Api, partner: Api, demo: DemoQuestion, question: dict[str, Any]) -> None:
    """The partner takes and answers it, the customer closes and rates it: whichever of these is not done yet."""
    path = f"/v1/questions/{question['id']}"
    if demo.answer is not None and question["first_response_at"] is None:
        if not question["assigned"]:
            await partner.call("POST", f"{path}/assign")
        await partner.call("POST", f"{path}/messages", {"body": demo.answer, "minutes_spent": demo.minutes})
    if demo.rating is not None:
        if question["state"] != "closed":
            await customer.call("POST", f"{path}/close")
        if question["rating"] is None:
            score, comment = demo.rating
            await customer.call("POST", f"{path}/rating", {"score": score, "comment": comment})


def main() -> None:
    settings = BaseServiceSettings()
    if settings.is_production:
        sys.exit("demo data is not loaded in production")
    try:
        asked = asyncio.run(ask_demo_questions(settings))
    except NotLearnt as exc:
        sys.exit(f"demo questions not asked: {exc}")
    except CALL_ERRORS as exc:
        sys.exit(f"demo questions not asked: {error_message(exc)}")
    for subject in asked:
        print(f"demo question: {subject}")


if __name__ == "__main__":
    main()
