"""SUP-1 against a support app in this process, the real PostgreSQL and RabbitMQ: who may ask, who answers, the
due moment, the conversation's states, the queue, the figures, and every bad input refused with nothing stored."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pytest

from shared.events import Envelope
from tests.infra import wait_for
from tests.integration.support_fixtures import PROBLEM, World, attachments_dir, keys, pool, publisher, support, world

__all__ = ["attachments_dir", "keys", "pool", "publisher", "support", "world"]  # fixtures

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_sup1_a_question_goes_to_the_partner_accompanying_the_contract_with_its_due_moment(world: World) -> None:
    customer, partner = world.customer(), await world.partner("Romashka Soft")
    number = await world.register(customer)
    await world.contract([number], partner)
    status, asked = await world.ask(world.owner(customer), number, configuration="Accounting", version="3.0.150.1")
    assert status == 201, asked
    assert asked["state"] == "new"
    assert asked["routed_to"] == {"kind": "partner", "id": str(partner.id), "name": "Romashka Soft"}
    due = datetime.fromisoformat(asked["first_response_due"])
    assert due > datetime.fromisoformat(asked["asked_at"])
    async with world.pool.acquire() as conn:
        event = await conn.fetchval(
            "SELECT envelope FROM outbox WHERE routing_key = 'support.question.asked' "
            "AND envelope->'data'->>'question_id' = $1",
            asked["id"],
        )
        job = await conn.fetchval("SELECT run_at FROM deferred_jobs WHERE dedupe_key = $1", f"overdue:{asked['id']}")
    assert event is not None and job == due


async def test_sup1_without_an_accompanying_partner_the_vendor_answers(world: World) -> None:
    customer = world.customer()
    number = await world.register(customer)  # bought today: its free period (ITS-7), no contract
    status, asked = await world.ask(world.owner(customer), number)
    assert status == 201, asked
    assert asked["routed_to"]["kind"] == "vendor" and asked["routed_to"]["id"] is None


async def test_sup1_several_partners_the_asker_chooses(world: World) -> None:
    customer, first, second = world.customer(), await world.partner(), await world.partner()
    number = await world.register(customer)
    await world.contract([number], first)
    await world.contract([number], second)
    before = await world.count("questions")
    status, problem = await world.ask(world.owner(customer), number)
    assert status == 409, problem
    assert problem["type"] == PROBLEM + "partner-choice-needed"
    assert {p["id"] for p in problem["partners"]} == {str(first.id), str(second.id)}
    status, problem = await world.ask(world.owner(customer), number, partner_id=str(uuid.uuid4()))
    assert status == 422 and problem["errors"][0]["field"] == "partner_id"
    assert await world.count("questions") == before
    status, asked = await world.ask(world.owner(customer), number, partner_id=str(second.id))
    assert status == 201 and asked["routed_to"]["id"] == str(second.id)


async def test_sup1_who_may_ask_the_consulting_line(world: World) -> None:
    customer = world.customer()
    old = await world.register(customer, purchase_date=date(2020, 1, 15))  # free period long over, no contract
    basic = await world.register(customer, edition="BASIC", purchase_date=date(2020, 1, 15))
    current = await world.register(customer)
    pending = await world.register(customer, active_from=world.clock.now() + timedelta(hours=1))
    stranger = world.customer()
    foreign = await world.register(stranger)
    before = await world.count("questions")

    status, problem = await world.ask(world.owner(customer), old)
    assert status == 402 and problem["type"] == PROBLEM + "its-contract-required"
    assert problem["offer"]["kind"] == "its-subscription" and problem["offer"]["registration_numbers"] == [old]
    status, problem = await world.ask(world.member(customer, uuid.uuid4(), rights=()), current)
    assert status == 403 and problem["type"] == PROBLEM + "its-access-right-missing"
    status, problem = await world.ask(world.owner(customer), pending)
    assert status == 403 and problem["type"] == PROBLEM + "registration-pending"
    for number in (foreign, "12345678903"):
        status, problem = await world.ask(world.owner(customer), number)
        assert status == 422 and problem["errors"][0]["field"] == "registration_number", problem
    status, problem = await world.ask(world.owner(customer), current, configuration="Payroll")
    assert status == 422 and problem["errors"][0]["field"] == "configuration"
    assert await world.count("questions") == before

    status, asked = await world.ask(world.owner(customer), basic)  # ITS-7: BASIC needs no contract
    assert status == 201, asked
    # Feedback to the vendor: any account, no product, no contract, no right.
    status, feedback = await world.ask(world.member(customer, uuid.uuid4(), rights=()), None, kind="feedback")
    assert status == 201 and feedback["routed_to"]["kind"] == "vendor", feedback


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"subject": ""}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"body": ""}, "body"),
        ({"body": "\n\t "}, "body"),
        ({"body": "x" * 20_001}, "body"),
        ({"kind": "complaint"}, "kind"),
        ({"registration_number": "12-34"}, "registration_number"),
        ({"version": "<script>"}, "version"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_sup1_bad_questions_are_refused_and_nothing_is_stored(
    world: World, fields: dict[str, object], field: str
) -> None:
    customer = world.customer()
    before = await world.count("questions")
    status, problem = await world.ask(world.owner(customer), "12345678903", **fields)
    assert status == 422, problem
    assert field in {e["field"] for e in problem["errors"]}, problem
    assert await world.count("questions") == before


async def test_sup1_consulting_needs_a_product_and_feedback_no_partner(world: World) -> None:
    customer = world.customer()
    status, problem = await world.ask(world.owner(customer), None)
    assert status == 422 and problem["errors"][0]["field"] == "registration_number"
    status, problem = await world.ask(world.owner(customer), None, kind="feedback", partner_id=str(uuid.uuid4()))
    assert status == 422 and problem["errors"][0]["field"] == "partner_id"


async def test_sup1_html_and_script_in_markdown_are_never_live(world: World) -> None:
    customer = world.customer()
    body = "<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>"
    status, asked = await world.ask(world.owner(customer), None, kind="feedback", body=body)
    assert status == 201
    status, thread = await world.call("GET", f"/v1/questions/{asked['id']}", world.owner(customer))
    assert status == 200 and thread["body"] == body
    assert "<script" not in thread["body_html"] and "<img" not in thread["body_html"]
    assert "javascript:" not in thread["body_html"].replace("javascript:alert(1))", "")
    assert "&lt;script&gt;" in thread["body_html"]


async def test_sup1_the_conversation_answer_rate_close_reopen(world: World) -> None:
    customer, partner = world.customer(), await world.partner()
    number = await world.register(customer)
    await world.contract([number], partner)
    asker = world.member(customer, uuid.uuid4())
    staff = world.staff(partner)
    _, asked = await world.ask(asker, number)
    path = f"/v1/questions/{asked['id']}"

    status, taken = await world.call("POST", path + "/assign", staff)
    assert status == 200 and taken["state"] == "in_progress" and taken["assigned"]
    status, problem = await world.call("POST", path + "/messages", staff, json={"body": "Which form?"})
    assert status == 422 and problem["errors"][0]["field"] == "minutes_spent"
    status, _ = await world.call(
        "POST", path + "/messages", staff, json={"body": "Which form?", "minutes_spent": 5, "asks_for_details": True}
    )
    assert status == 201
    status, problem = await world.call("POST", path + "/messages", asker, json={"body": "x", "minutes_spent": 3})
    assert status == 422 and problem["errors"][0]["field"] == "minutes_spent"
    _, thread = await world.call("GET", path, asker)
    assert thread["state"] == "waiting_for_customer" and thread["first_response_at"] is not None
    status, _ = await world.call("POST", path + "/messages", asker, json={"body": "The 2026 one."})
    assert status == 201
    _, thread = await world.call("GET", path, asker)
    assert thread["state"] == "in_progress"
    status, _ = await world.call(
        "POST", path + "/messages", staff, json={"body": "Update to 3.0.151.", "minutes_spent": 20}
    )
    _, thread = await world.call("GET", path, asker)
    assert thread["state"] == "answered" and [m["side"] for m in thread["messages"]] == ["staff", "customer", "staff"]

    status, problem = await world.call("POST", path + "/rating", asker, json={"score": 5})
    assert status == 409 and problem["type"] == PROBLEM + "question-not-closed"
    status, problem = await world.call("POST", path + "/reopen", asker)
    assert status == 409
    status, closed = await world.call("POST", path + "/close", asker)
    assert status == 200 and closed["state"] == "closed"
    status, problem = await world.call("POST", path + "/messages", asker, json={"body": "one more"})
    assert status == 409 and problem["type"] == PROBLEM + "question-closed"
    status, problem = await world.call("POST", path + "/rating", staff, json={"score": 1})
    assert status == 403
    status, problem = await world.call("POST", path + "/rating", asker, json={"score": 6})
    assert status == 422
    status, rated = await world.call("POST", path + "/rating", asker, json={"score": 5, "comment": "Quick, thanks"})
    assert status == 200 and rated["rating"] == 5
    status, problem = await world.call("POST", path + "/rating", world.owner(customer), json={"score": 1})
    assert status == 409 and problem["type"] == PROBLEM + "already-rated"

    status, problem = await world.call("POST", path + "/reopen", world.owner(customer))
    assert status == 403  # the asker reopens
    status, reopened = await world.call("POST", path + "/reopen", asker)
    assert status == 200 and reopened["state"] == "in_progress"
    await world.call("POST", path + "/close", staff)
    async with world.pool.acquire() as conn:  # closed 15 days ago
        await conn.execute(
            "UPDATE questions SET closed_at = closed_at - interval '15 days' WHERE id = $1", closed["id"]
        )
    status, problem = await world.call("POST", path + "/reopen", asker)
    assert status == 409 and problem["type"] == PROBLEM + "reopen-period-over"
    async with world.pool.acquire() as conn:
        kinds = await conn.fetch(
            "SELECT routing_key FROM outbox WHERE envelope->'data'->>'question_id' = $1 ORDER BY created_at",
            closed["id"],
        )
    assert [k["routing_key"].removeprefix("support.question.") for k in kinds] == [
        "asked",
        "answered",
        "replied",
        "answered",
        "closed",
        "rated",
        "reopened",
        "closed",
    ]


async def test_sup1_another_subscribers_or_partners_question_does_not_exist(world: World) -> None:
    customer, partner, other_partner = world.customer(), await world.partner(), await world.partner()
    number = await world.register(customer)
    await world.contract([number], partner)
    _, asked = await world.ask(world.owner(customer), number)
    path = f"/v1/questions/{asked['id']}"
    stranger = world.customer()
    colleague = world.member(customer, uuid.uuid4())
    for headers in (world.owner(stranger), world.staff(other_partner), world.operator(), colleague):
        for method, suffix, body in (
            ("GET", "", None),
            ("POST", "/messages", {"body": "hi", "minutes_spent": 1}),
            ("POST", "/close", None),
            ("POST", "/assign", None),
            ("GET", "/attachments/log.txt", None),
        ):
            status, problem = await world.call(method, path + suffix, headers, json=body)
            assert status == 404, (suffix, problem)
            assert problem["type"].endswith("not-found"), problem
    status, _ = await world.call("GET", f"/v1/questions/{uuid.uuid4()}", world.owner(customer))
    assert status == 404
    status, _ = await world.call("GET", "/v1/questions/not-a-uuid", world.owner(customer))
    assert status == 404
    # The owner shares it: the colleague reads it (and only reads it).
    status, shared = await world.call("PUT", path + "/shared", world.owner(customer), json={"shared": True})
    assert status == 200 and shared["shared"]
    status, problem = await world.call("PUT", path + "/shared", colleague, json={"shared": False})
    assert status == 403
    status, thread = await world.call("GET", path, colleague)
    assert status == 200 and thread["you"] == "reader"
    status, _ = await world.call("POST", path + "/messages", colleague, json={"body": "me too"})
    assert status == 403


async def test_sup1_my_questions_and_the_queue(world: World) -> None:
    customer, partner = world.customer(), await world.partner()
    number = await world.register(customer, configuration="Payroll")
    await world.contract([number], partner)
    user = uuid.uuid4()
    mine = [(await world.ask(world.member(customer, user), number, subject=f"Q{n}"))[1] for n in range(3)]
    _, owners = await world.ask(world.owner(customer), number, subject="Owner's")

    status, page = await world.call("GET", "/v1/questions?limit=2", world.member(customer, user))
    assert status == 200 and [q["subject"] for q in page["items"]] == ["Q2", "Q1"]
    status, rest = await world.call(
        "GET", f"/v1/questions?limit=2&cursor={page['next_cursor']}", world.member(customer, user)
    )
    assert [q["subject"] for q in rest["items"]] == ["Q0"] and rest["next_cursor"] is None
    status, everything = await world.call("GET", "/v1/questions", world.owner(customer))
    assert {q["id"] for q in everything["items"]} == {*(q["id"] for q in mine), owners["id"]}
    status, problem = await world.call("GET", "/v1/questions?cursor=bm90LW91cnM", world.owner(customer))
    assert status == 422 and problem["errors"][0]["field"] == "cursor"

    staff = world.staff(partner)
    status, queue = await world.call("GET", f"/v1/support/queue?subscriber={customer.code}&limit=3", staff)
    assert status == 200, queue
    status, rest = await world.call(
        "GET", f"/v1/support/queue?subscriber={customer.code}&limit=3&cursor={queue['next_cursor']}", staff
    )
    items = queue["items"] + rest["items"]  # oldest due first: asked one after another, due one after another
    assert len(queue["items"]) == 3 and rest["next_cursor"] is None
    assert [q["first_response_due"] for q in items] == sorted(q["first_response_due"] for q in items)
    assert {q["id"] for q in items} == {*(q["id"] for q in mine), owners["id"]}
    status, queue = await world.call("GET", "/v1/support/queue?configuration=Payroll&limit=200", staff)
    assert {q["id"] for q in queue["items"]} == {*(q["id"] for q in mine), owners["id"]}
    status, other = await world.call("GET", "/v1/support/queue", world.staff(await world.partner()))
    assert status == 200 and other["items"] == []
    status, vendor = await world.call("GET", f"/v1/support/queue?subscriber={customer.code}", world.operator())
    assert status == 200 and vendor["items"] == []
    status, problem = await world.call("GET", "/v1/support/queue", world.owner(customer))
    assert status == 403


async def test_sup1_an_overdue_question_is_flagged_and_announced_once(world: World) -> None:
    customer, partner = world.customer(), await world.partner()
    number = await world.register(customer)
    await world.contract([number], partner)
    _, asked = await world.ask(world.owner(customer), number)
    _, answered = await world.ask(world.owner(customer), number)
    await world.call(
        "POST",
        f"/v1/questions/{answered['id']}/messages",
        world.staff(partner),
        json={"body": "Done", "minutes_spent": 1},
    )
    async with world.pool.acquire() as conn:  # both were due an hour ago: their jobs run now
        for q in (asked, answered):
            await conn.execute(
                "UPDATE questions SET first_response_due = $2 WHERE id = $1",
                uuid.UUID(q["id"]),
                world.clock.now() - timedelta(hours=1),
            )
            await conn.execute(
                "UPDATE deferred_jobs SET run_at = $2 WHERE dedupe_key = $1", f"overdue:{q['id']}", world.clock.now()
            )
    await world.wait_for_row("SELECT 1 FROM questions WHERE id = $1 AND overdue_at IS NOT NULL", uuid.UUID(asked["id"]))
    await world.wait_for_row(
        "SELECT 1 FROM deferred_jobs WHERE dedupe_key = $1 AND state = 'done'", f"overdue:{answered['id']}"
    )
    _, queue = await world.call("GET", "/v1/support/queue?overdue=true", world.staff(partner))
    assert [q["id"] for q in queue["items"]] == [asked["id"]] and queue["items"][0]["overdue"]
    async with world.pool.acquire() as conn:
        events = await conn.fetch(
            "SELECT envelope->'data'->>'question_id' AS id FROM outbox WHERE routing_key = 'support.question.overdue' "
            "AND envelope->'data'->>'question_id' = ANY($1::text[])",
            [asked["id"], answered["id"]],
        )
        # A second run changes nothing: the flag and the event are once.
        from services.support import store

        assert await store.mark_overdue(conn, uuid.UUID(asked["id"]), world.clock.now()) is None
    assert [e["id"] for e in events] == [asked["id"]]


async def test_sup1_figures_per_partner_and_per_subscriber(world: World) -> None:
    customer, partner = world.customer(), await world.partner("Figures Partner")
    number = await world.register(customer)
    await world.contract([number], partner)
    staff = world.staff(partner)
    for minutes, score in ((10, 5), (30, 3)):
        _, asked = await world.ask(world.owner(customer), number)
        path = f"/v1/questions/{asked['id']}"
        await world.call("POST", path + "/messages", staff, json={"body": "Answer", "minutes_spent": minutes})
        await world.call("POST", path + "/close", staff)
        await world.call("POST", path + "/rating", world.owner(customer), json={"score": score})
    month = world.clock.now().strftime("%Y-%m")
    status, figures = await world.call("GET", f"/v1/support/figures?month={month}", world.owner(customer))
    assert status == 200 and figures["per"] == "partner"
    [group] = figures["groups"]
    assert group["id"] == str(partner.id) and group["name"] == "Figures Partner"
    assert (group["questions"], group["answered"], group["minutes_spent"], group["average_rating"]) == (2, 2, 40, 4.0)
    status, figures = await world.call("GET", f"/v1/support/figures?month={month}", staff)
    assert figures["per"] == "subscriber" and [g["id"] for g in figures["groups"]] == [customer.code]
    status, figures = await world.call("GET", f"/v1/support/figures?month={month}", world.operator())
    assert str(partner.id) in {g["id"] for g in figures["groups"]}
    status, problem = await world.call(
        "GET", f"/v1/support/figures?month={month}", world.member(customer, uuid.uuid4())
    )
    assert status == 403
    for bad in ("2026-13", "26-01", ""):
        status, problem = await world.call("GET", f"/v1/support/figures?month={bad}", world.operator())
        assert status == 422 and problem["errors"][0]["field"] == "month"


async def test_sup1_consumers_survive_malformed_and_duplicate_messages(world: World) -> None:
    customer = world.customer()
    # Not an envelope, and an envelope whose data does not fit: parked, the consumer goes on.
    await world.bus.publish(
        "registration.product.activated", b"not json", message_id="x", message_type="registration.product.activated"
    )
    bad = Envelope(
        type="registration.product.activated",
        version=1,
        occurred_at=world.clock.now(),
        producer="registration",
        data={"registration_number": 5},
    )
    await world.bus.publish(bad.type, bad.model_dump_json().encode(), message_id=str(bad.id), message_type=bad.type)
    number = await world.register(customer)  # handled after the bad ones
    partner = await world.partner()
    contract_id = await world.contract([number], partner)
    # The same contract event again (a redelivery): one row, unchanged.
    async with world.pool.acquire() as conn:
        envelope = await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer LIKE 'support.%'")
    assert envelope >= 3
    from shared.events.contracts import ContractActivated, Organisation

    event = ContractActivated(
        contract_id=contract_id,
        number="ITS-dup",
        partner_id=partner.id,
        partner_name=partner.name,
        organisation=Organisation(name="R", tin="7707083893"),
        main_registration_number=number,
        period_from=world.clock.now().strftime("%Y-%m"),
        period_to=world.clock.now().strftime("%Y-%m"),
        kind="ITS PROF",
        activated_at=world.clock.now(),
    )
    first = await world.publish(event, "contracts")
    await world.bus.publish(
        first.type, first.model_dump_json().encode(), message_id=str(first.id), message_type=first.type
    )

    async def handled() -> bool:
        async with world.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT 1 FROM inbox WHERE event_id = $1", first.id))

    await wait_for(handled, what="the duplicate's first delivery")
    async with world.pool.acquire() as conn:
        rows = await conn.fetchval("SELECT count(*) FROM contract_numbers WHERE contract_id = $1", contract_id)
    assert rows == 1
    status, asked = await world.ask(world.owner(customer), number)
    assert status == 201 and asked["routed_to"]["id"] == str(partner.id)


async def test_sup1_an_excluded_user_loses_the_questions_at_once(world: World) -> None:
    """SUB-6: identity's `member.excluded` reaches support on the event log; the user's token is refused from then."""
    from shared.events.identity import MemberExcluded

    customer, user = world.customer(), uuid.uuid4()
    headers = world.member(customer, user)
    _, asked = await world.ask(headers, None, kind="feedback")
    status, _ = await world.call("GET", f"/v1/questions/{asked['id']}", headers)
    assert status == 200
    await world.publish(
        MemberExcluded(subscriber_id=customer.subscriber_id, account_id=user, excluded_at=world.clock.now()), "identity"
    )

    async def refused() -> bool:
        status, _ = await world.call("GET", f"/v1/questions/{asked['id']}", headers)
        return status == 403

    await wait_for(refused, what="the exclusion to reach support")
    status, problem = await world.call("GET", "/v1/questions", headers)
    assert status == 403 and problem["type"] == PROBLEM + "membership-ended"
    status, _ = await world.call("GET", f"/v1/questions/{asked['id']}", world.owner(customer))
    assert status == 200  # the owner keeps the subscriber's questions
