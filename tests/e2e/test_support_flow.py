"""Support end to end (rules SUP-1, SUP-2; issue 18): identity, registration, contracts, updates, support and
notifications as real processes, the events through the real RabbitMQ, the e-mails through the SMTP sink.

One consulting line for the module (the fixture `line`): a partner with a staff member, a customer with two PROF
products bought long ago (no free period, ITS-7), an ITS contract the partner posted for the first one and that was
processed on the next business day (ITS-2), the shared clock at 09:00 of that day. Each test asks its own questions
on it, so the tests do not depend on each other or on their order.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from services.notifications.app import NotificationsSettings
from services.support.app import SCHEMA as SUPPORT_SCHEMA
from shared.db import Pool, close_pool, create_pool
from tests.e2e.contracts_flows import MOSCOW, Contracts, contract_body, contracts_db, moscow, registration_db
from tests.e2e.flows import PASSWORD, PROBLEMS, Customer, Partner, Portal, Reply, body_text, problem_type, unique
from tests.e2e.test_access_flow import delay_until, staff_member, tokens_for
from tests.e2e.test_updates_flow import LONG_AGO
from tests.infra import ServiceProcess, TestStack, wait_for

__all__ = ["contracts_db", "registration_db"]  # fixtures

FIRST_RESPONSE = timedelta(hours=8)  # ITS_SUPPORT_FIRST_RESPONSE_HOURS, the default: business hours 09:00-18:00


@dataclass
class Line:
    """The consulting line as its users see it: the customer (and its client program), the partner's staff."""

    flow: Contracts
    url: str  # support
    db: Pool  # support's read models, only to wait for what no API answer tells (what support has learnt)
    public_url: str  # ITS_PUBLIC_URL: where the e-mails' links point (the gateway, in front of the portal)
    owner: Customer
    partner: Partner
    staff: Customer  # with a token for the partner (the password grant with `partner`)
    configuration: str
    covered: str  # a registration number the partner's contract lists
    uncovered: str  # one no contract lists

    @property
    def portal(self) -> Portal:
        return self.flow.portal

    async def call(self, method: str, path: str, token: str, **kw: Any) -> Reply:
        return await self.portal.call(method, f"{self.url}{path}", token, **kw)

    async def ask(self, token: str, subject: str, body: str, **fields: Any) -> Reply:
        question = {"kind": "consulting", "subject": subject, "body": body, "registration_number": self.covered}
        return await self.call("POST", "/v1/questions", token, json={**question, **fields})

    async def asked(self, token: str, subject: str, body: str, **fields: Any) -> str:
        reply = await self.ask(token, subject, body, **fields)
        assert reply.status == 201, reply.body
        return str(reply.body["id"])

    async def answer(self, question_id: str, body: str, minutes: int) -> Reply:
        reply = await self.call(
            "POST",
            f"/v1/questions/{question_id}/messages",
            self.staff.token,
            json={"body": body, "minutes_spent": minutes},
        )
        assert reply.status == 201, reply.body
        return reply

    async def search(self, token: str, q: str) -> dict[str, dict[str, Any]]:
        """The knowledge base's first page for `q`: the items by id."""
        reply = await self.call("GET", "/v1/knowledge/search", token, params={"q": q, "limit": "50"})
        assert reply.status == 200, reply.body
        return {item["id"]: item for item in reply.body["items"]}

    async def user(self, *, its_access: bool = True) -> tuple[Customer, str]:
        """A user the owner invited (not the owner), acting for the owner's subscriber: the user and its account id."""
        user = await self.portal.invited_user(self.owner, self.flow.mail_dir, its_access=its_access)
        users = await self.portal.call("GET", f"{self.portal.identity}/v1/subscriber/users", self.owner.token)
        [account_id] = [u["account_id"] for u in users.body["items"] if u["login"] == user.login]
        return user, str(account_id)

    async def mail(self, to: str, subject: str) -> str:
        """The text of the one e-mail to `to` whose subject contains `subject`."""
        [message] = await self.flow.mail(to, subject)
        return body_text(message)


@pytest.fixture(scope="module")
async def support_db(migrated: TestStack) -> AsyncIterator[Pool]:
    pool = await create_pool(migrated.database_url, SUPPORT_SCHEMA, min_size=1, max_size=2)
    yield pool
    await close_pool(pool)


async def support_knows(db: Pool, numbers: list[str], contract_id: str) -> None:
    """Until support has learnt the products and the contract from registration's and contracts' events (a question
    asked before is refused as about an unknown product, or goes to the vendor)."""
    await wait_for(
        lambda: db.fetchval(
            "SELECT count(*) = $3 FROM registered_products WHERE registration_number = ANY($1::text[]) "
            "AND EXISTS (SELECT 1 FROM contract_numbers WHERE contract_id = $2)",
            numbers,
            uuid.UUID(contract_id),
            len(numbers),
        ),
        timeout=15,
        what="support to learn the products and the contract from registration's and contracts' events",
    )


@pytest.fixture(scope="module")
async def line(
    services: dict[str, ServiceProcess],
    registration_db: Pool,
    contracts_db: Pool,
    support_db: Pool,
    migrated: TestStack,
    mail_dir: Path,
    gateway_port: int,
) -> AsyncIterator[Line]:
    async with aiohttp.ClientSession() as http:
        portal = Portal(http, services, registration_db)
        flow = Contracts(portal, services["contracts"].url, contracts_db, migrated, mail_dir)
        operator = await flow.portal.operator()
        partner = await flow.partner(operator)
        staff = await staff_member(flow.portal, operator, partner, mail_dir)
        configuration, [covered, uncovered] = await flow.product(operator, edition="PROF", count=2)
        owner = await flow.portal.customer("Olga Owner", verified_through=mail_dir)  # owners invite when verified
        flow.customers.append(owner)
        for issued in (covered, uncovered):
            await flow.authorise(partner, issued.number, owner, LONG_AGO)  # the free period ended long ago

        today = datetime.now(MOSCOW).date()
        this_month, next_month = today.strftime("%Y-%m"), (today.replace(day=28) + timedelta(days=5)).strftime("%Y-%m")
        posted = await flow.post_contract(partner, contract_body(covered.number, (this_month, next_month)))
        # 09:00 of the business day the contract is processed on: the line's working hours begin.
        async with flow.clock_at(moscow(f"{posted.body['processing_on']} 09:00")):
            await flow.wait_state(partner, str(posted.body["id"]), "active")
            await support_knows(support_db, [covered.number, uncovered.number], str(posted.body["id"]))
            staff.token = (await tokens_for(flow.portal, staff.login, partner=partner.id))["access_token"]
            yield Line(
                flow,
                services["support"].url,
                support_db,
                f"https://127.0.0.1:{gateway_port}",
                owner,
                partner,
                staff,
                configuration,
                covered.number,
                uncovered.number,
            )


# ---- SUP-1 ---------------------------------------------------------------------------------------


async def test_sup1_a_client_program_asks_the_accompanying_partner_answers_the_customer_closes_and_rates(
    line: Line,
) -> None:
    owner, staff, partner = line.owner, line.staff, line.partner
    # The client program logs in with the user's login and password (ACC-3) and asks from inside, with its context.
    program = await tokens_for(line.portal, owner.login)
    assert program["refresh_token"]
    # It finds the product in registration's list (the README's walk-through does so with curl).
    listed = await line.portal.reg("GET", "/v1/registrations", program["access_token"])
    assert listed.status == 200, listed.body
    products = {r["registration_number"]: r["product"] for r in listed.body["items"]}
    assert products[line.covered]["name"] and products[line.covered]["configurations"] == [line.configuration]
    subject = f"Поступление товаров не проводится {unique('')}"
    asked = await line.ask(
        program["access_token"],
        subject,
        "При проведении документа **Поступление товаров** появляется окно: неверная дата.",
        configuration=line.configuration,
        version="3.0.150.1",
        platform_version="8.3.24.1342",
    )
    assert asked.status == 201, asked.body
    question_id = str(asked.body["id"])
    assert asked.body["state"] == "new"
    assert asked.body["routed_to"] == {"kind": "partner", "id": partner.id, "name": partner.name}
    # Asked in the first hour of a business day: the first answer is due 8 working hours later, the same day.
    asked_at = datetime.fromisoformat(asked.body["asked_at"])
    due = datetime.fromisoformat(asked.body["first_response_due"])
    assert due - asked_at == FIRST_RESPONSE and due.astimezone(MOSCOW).hour < 18, (asked_at, due)

    # The partner's staff are told, with a link to the portal's page of the question in the partner cabinet.
    letter = await line.mail(staff.email, f"New question from subscriber {owner.code}: {subject}")
    assert f"{line.public_url}/partner/{partner.id}/support/{question_id}\n" in letter
    assert line.configuration in letter and line.covered in letter and "First answer due by" in letter

    # The staff member finds it in the partner's queue, takes it and answers with the minutes spent.
    queue = await line.call("GET", "/v1/support/queue", staff.token, params={"subscriber": owner.code})
    assert queue.status == 200 and question_id in {q["id"] for q in queue.body["items"]}, queue.body
    taken = await line.call("POST", f"/v1/questions/{question_id}/assign", staff.token)
    assert taken.status == 200 and taken.body["state"] == "in_progress" and taken.body["assigned"], taken.body
    await line.answer(question_id, "Проверьте, что в документе указан договор с поставщиком.", 25)

    # The asker is told, with a link to the question's page on the portal.
    letter = await line.mail(owner.email, f"Your question is answered: {subject}")
    assert f"{line.public_url}/support/questions/{question_id}\n" in letter and partner.name in letter

    # The customer (in the portal, its own token) reads the thread, closes the question and rates the answer.
    thread = await line.call("GET", f"/v1/questions/{question_id}", owner.token)
    assert thread.status == 200 and thread.body["state"] == "answered", thread.body
    assert thread.body["first_response_at"] is not None and not thread.body["overdue"]
    [message] = thread.body["messages"]
    assert message["side"] == "staff" and message["author"] == staff.login and message["minutes_spent"] == 25
    assert (thread.body["configuration"], thread.body["version"]) == (line.configuration, "3.0.150.1")
    assert "<strong>Поступление товаров</strong>" in thread.body["body_html"]
    closed = await line.call("POST", f"/v1/questions/{question_id}/close", owner.token)
    assert closed.status == 200 and closed.body["state"] == "closed", closed.body
    rated = await line.call(
        "POST", f"/v1/questions/{question_id}/rating", owner.token, json={"score": 5, "comment": "Быстро и понятно"}
    )
    assert rated.status == 200 and rated.body["rating"] == 5, rated.body
    again = await line.call("POST", f"/v1/questions/{question_id}/rating", owner.token, json={"score": 1})
    assert again.status == 409 and problem_type(again.body) == PROBLEMS + "already-rated"

    # The work is seen: the owner's figures for the month name the partner with the minutes spent and the rating.
    month = asked_at.astimezone(MOSCOW).strftime("%Y-%m")
    figures = await line.call("GET", "/v1/support/figures", owner.token, params={"month": month})
    assert figures.status == 200 and figures.body["per"] == "partner", figures.body
    [group] = [g for g in figures.body["groups"] if g["id"] == partner.id]
    assert group["minutes_spent"] >= 25 and group["ratings"] >= 1, group


async def test_sup1_a_product_not_covered_is_refused_saying_why_with_the_offer(line: Line) -> None:
    before = await line.call("GET", "/v1/questions", line.owner.token, params={"limit": "100"})
    refused = await line.ask(line.owner.token, "Вопрос без договора", "Текст.", registration_number=line.uncovered)
    assert refused.status == 402 and problem_type(refused.body) == PROBLEMS + "its-contract-required", refused.body
    assert refused.body["detail"], refused.body  # why, in words
    assert refused.body["offer"]["kind"] == "its-subscription"
    assert refused.body["offer"]["registration_numbers"] == [line.uncovered]
    after = await line.call("GET", "/v1/questions", line.owner.token, params={"limit": "100"})
    assert after.body["items"] == before.body["items"]  # nothing stored


async def test_sup1_feedback_to_the_vendor_from_an_account_with_no_products(line: Line) -> None:
    newcomer = await line.portal.customer("Nikita Newcomer")
    subject = f"Wish {unique('')}: a dark theme"
    sent = await line.call(
        "POST", "/v1/questions", newcomer.token, json={"kind": "feedback", "subject": subject, "body": "Please."}
    )
    assert sent.status == 201, sent.body
    assert sent.body["routed_to"]["kind"] == "vendor" and sent.body["routed_to"]["name"], sent.body
    # The vendor's operators are told at the support desk's address, with a link to their cabinet's page of it.
    desk = NotificationsSettings().support_desk_email
    letter = await line.mail(desk, f"New feedback from subscriber {newcomer.code}: {subject}")
    assert f"{line.public_url}/operator/support/{sent.body['id']}\n" in letter
    # A question to the consulting line, though, needs a product.
    refused = await line.call(
        "POST", "/v1/questions", newcomer.token, json={"kind": "consulting", "subject": "S", "body": "B"}
    )
    assert refused.status == 422 and refused.body["errors"][0]["field"] == "registration_number", refused.body


# ---- SUP-2 ---------------------------------------------------------------------------------------


async def test_sup2_the_answer_is_found_by_a_word_in_another_grammatical_form(line: Line) -> None:
    subject = f"Не сходится сумма НДС {unique('')}"
    question_id = await line.asked(line.owner.token, subject, "В книге покупок сумма налога больше, чем в счёте.")
    assert question_id not in await line.search(line.owner.token, "договора")
    await line.answer(question_id, "Ставку налога задаёт договор с поставщиком: исправьте её в договоре.", 10)
    # "договор" is in the answer only, in two forms; the search, in a third, finds both and highlights each.
    found = await line.search(line.owner.token, "договора")
    assert question_id in found, found
    item = found[question_id]
    assert item["kind"] == "question" and item["title"] == subject
    assert "<b>договор</b>" in item["snippet"] and "<b>договоре</b>" in item["snippet"], item["snippet"]
    assert item["configuration"] == line.configuration  # the product's only one, though not named when asked


async def test_sup2_a_user_who_is_not_the_owner_finds_only_their_own_and_the_shared(line: Line) -> None:
    asker, _ = await line.user()
    colleague, _ = await line.user()
    mine = await line.asked(asker.token, "Остатки по складу", f"Остатки не совпадают {unique('')}.")
    owners = await line.asked(line.owner.token, "Остатки в отчёте", "Остатки в отчёте неверные.")
    shared = await line.asked(line.owner.token, "Остатки на начало года", "Как ввести остатки на начало года?")
    put = await line.call("PUT", f"/v1/questions/{shared}/shared", line.owner.token, json={"shared": True})
    assert put.status == 200 and put.body["shared"], put.body

    # "остатков": another form of the word each question has.
    assert {mine, shared} <= set(await line.search(asker.token, "остатков"))
    assert owners not in await line.search(asker.token, "остатков")
    colleagues = set(await line.search(colleague.token, "остатков"))
    assert shared in colleagues and not {mine, owners} & colleagues
    assert {mine, owners, shared} <= set(await line.search(line.owner.token, "остатков"))
    # Nor is another's question read by its id.
    assert (await line.call("GET", f"/v1/questions/{mine}", colleague.token)).status == 404


async def test_sup2_an_excluded_user_loses_the_questions_at_once(line: Line) -> None:
    """SUB-6: the owner excludes the user; the user's token, issued before, is refused by support at once."""
    user, account_id = await line.user()
    question_id = await line.asked(user.token, "Ведомость не формируется", f"Пустая ведомость {unique('')}.")
    assert question_id in await line.search(user.token, "ведомости")

    async def refused() -> bool:
        reply = await line.call("GET", "/v1/knowledge/search", user.token, params={"q": "ведомости"})
        return reply.status == 403 and problem_type(reply.body) == PROBLEMS + "membership-ended"

    user_path = f"{line.portal.identity}/v1/subscriber/users/{account_id}"
    excluded, _ = await delay_until(
        lambda: line.portal.call("DELETE", user_path, line.owner.token),
        refused,
        "member excluded (identity.member.excluded) at support",
    )
    assert excluded.status == 204, excluded.body
    for path in ("/v1/questions", f"/v1/questions/{question_id}"):
        reply = await line.call("GET", path, user.token)
        assert reply.status == 403 and problem_type(reply.body) == PROBLEMS + "membership-ended", (path, reply.body)
    # No new token for the subscriber either; the owner keeps the subscriber's questions.
    form = {"grant_type": "password", "username": user.login, "password": PASSWORD, "subscriber": line.owner.code}
    token = await line.portal.call("POST", f"{line.portal.identity}/oauth/token", data=form)
    assert token.status == 400 and token.body["error"] == "invalid_grant", token.body
    assert (await line.call("GET", f"/v1/questions/{question_id}", line.owner.token)).status == 200
    assert question_id in await line.search(line.owner.token, "ведомости")
