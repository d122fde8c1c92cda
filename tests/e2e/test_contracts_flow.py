"""ITS contracts end to end (rules ITS-1..7, REG-4, CMS-1..7, MON-1): HTTP into identity, registration and
contracts as real processes, real events between them (registration's catalogue and registrations reach contracts'
read models; contracts' activations reach registration's REG-4 coverage and notifications, whose e-mails land in
the real SMTP sink), partners' webhooks, and the shared test clock set to Moscow times.

Every test makes its own accounts, partners, configurations and products, so the tests do not depend on each other;
every clock move is put back afterwards. E-mails and webhooks are awaited before the clock is put back: their
sending is a deferred job due at the moment (on the shared clock) the event was handled.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import pytest
from aiohttp import web

from tests.e2e.conftest import read_mail
from tests.e2e.contracts_flows import (
    CORRECTED,
    VALID_KPP,
    VALID_TIN,
    Contracts,
    contract_body,
    contracts_db,
    error_fields,
    flow,
    moscow,
    registration_db,
)
from tests.e2e.flows import PROBLEMS, Issued, Partner, Reply, body_text, problem_type, unique
from tests.infra import RunningApp, wait_for

__all__ = ["contracts_db", "flow", "registration_db"]  # fixtures


# ---- ITS-1 ------------------------------------------------------------------------------------


async def test_its1_a_partner_system_posts_a_contract_once_whatever_the_retries(flow: Contracts) -> None:
    operator = await flow.portal.operator()
    partner = await flow.partner(operator)
    _, [main, extra_one, extra_two] = await flow.product(operator, edition="PROF", count=3)
    customer = await flow.customer()
    body = contract_body(main.number, ("2026-12", "2027-11"), [extra_one.number, extra_two.number])
    key = uuid.uuid4().hex

    async with flow.clock_at(moscow("2026-12-01 10:00")):  # a Tuesday
        first = await flow.post_contract(partner, body, key)
        assert first.body == {"id": first.body["id"], "state": "processing", "processing_on": "2026-12-02"}

        # A retry with the same key (a lost answer) answers the same and posts nothing more.
        replay = await flow.post(partner, {**body}, key)
        assert (replay.status, replay.body) == (202, first.body)
        assert replay.headers.get("Idempotent-Replayed") == "true"
        reused = await flow.post(partner, {**body, "kind": "ITS TECHNO"}, key)
        assert reused.status == 422 and problem_type(reused.body) == PROBLEMS + "idempotency-key-reused"

        # Bad organisation data or months: 422, field by field, nothing stored.
        for change, wrong in (
            ({"organisation": {"name": "Romashka", "tin": "7707083894", "kpp": VALID_KPP}}, "organisation.tin"),
            ({"organisation": {"name": "Romashka", "tin": VALID_TIN, "kpp": "77360100"}}, "organisation.kpp"),
            ({"period": {"from": "2026-12", "to": "2027-13"}}, "period.to"),
            ({"period": {"from": "2026-1", "to": "2027-11"}}, "period.from"),
            ({"period": {"from": "2027-05", "to": "2027-01"}}, "period"),
        ):
            bad = await flow.post(partner, {**contract_body(main.number, ("2026-12", "2027-11")), **change})
            assert bad.status == 422, (change, bad.body)
            assert wrong in error_fields(bad), (change, bad.body)
        both = await flow.post(
            partner,
            contract_body(
                main.number, ("2026-12", "2027-11"), organisation={"name": "R", "tin": "7707083894", "kpp": "1"}
            ),
        )
        assert both.status == 422 and {"organisation.tin", "organisation.kpp"} <= error_fields(both), both.body

        # Without an Idempotency-Key a POST is not safe to retry: refused. Only partners post contracts.
        keyless_body = contract_body(main.number, ("2026-12", "2026-12"))
        keyless = await flow.call("POST", "/v1/contracts", partner.token, json=keyless_body)
        assert keyless.status == 400 and problem_type(keyless.body) == PROBLEMS + "idempotency-key-missing"
        by_customer = await flow.call(
            "POST", "/v1/contracts", customer.token, headers={"Idempotency-Key": "k1"}, json=body
        )
        assert by_customer.status == 403, by_customer.body

        mine = await flow.partner_contracts(partner)
        assert list(mine) == [first.body["id"]]
        contract = mine[first.body["id"]]
        assert contract["state"] == "processing" and contract["processing_on"] == "2026-12-02"
        assert contract["number"] == body["number"] and contract["partner"] == partner.name
        assert contract["main_registration_number"] == main.number
        assert contract["additional_registration_numbers"] == [extra_one.number, extra_two.number]
        assert contract["period"] == {"from": "2026-12", "to": "2027-11"}
        assert contract["organisation"] == {"name": "Romashka LLC", "tin": VALID_TIN, "kpp": VALID_KPP}
        assert contract["activated_at"] is None
        assert (await flow.call("GET", "/v1/partner/contracts", customer.token)).status == 403


# ---- ITS-2 ------------------------------------------------------------------------------------


async def test_its2_a_contract_is_processed_on_the_next_business_day_and_the_partner_is_told(
    flow: Contracts,
) -> None:
    operator = await flow.portal.operator()
    partner = await flow.partner(operator)
    _, [main, additional, eve] = await flow.product(operator, edition="PROF", count=3)
    customer = await flow.customer()
    await flow.authorise(partner, main.number, customer)
    await flow.authorise(partner, eve.number, customer)

    async with flow.clock_at(moscow("2026-11-27 23:59")):  # Friday evening in Moscow
        body = contract_body(main.number, ("2026-11", "2027-10"), [additional.number])
        posted = await flow.post_contract(partner, body)
        contract_id = posted.body["id"]
        assert posted.body["processing_on"] == "2026-11-30"  # Monday
        assert await flow.listed(customer) == {}  # in processing: not listed

        await flow.move_to(moscow("2026-11-29 23:59:30"))  # Sunday, half a minute before Monday
        assert (await flow.partner_contracts(partner))[contract_id]["state"] == "processing"
        assert await flow.listed(customer) == {}

        await flow.move_to(moscow("2026-11-30 00:00"))
        await flow.wait_state(partner, contract_id, "active")
        listed = await flow.listed(customer)
        assert list(listed) == [contract_id]
        assert listed[contract_id]["state"] == "active" and listed[contract_id]["processing_on"] == "2026-11-30"
        activated_at = datetime.fromisoformat(listed[contract_id]["activated_at"])
        assert moscow("2026-11-30 00:00") <= activated_at < moscow("2026-11-30 00:01")

        # notifications writes to the partner's contact address: its system's contract is active.
        [letter] = await flow.mail(partner.email, f"Contract {body['number']} is active")
        text = body_text(letter)
        assert main.number in text and additional.number in text and "Romashka LLC" in text
        assert VALID_TIN in text and "has been processed and is active" in text

    # The eve of the New Year holidays: processed on the first working day after them.
    async with flow.clock_at(moscow("2026-12-30 12:00")):
        body = contract_body(eve.number, ("2027-01", "2027-12"))
        posted = await flow.post_contract(partner, body)
        contract_id = posted.body["id"]
        assert posted.body["processing_on"] == "2027-01-11"

        await flow.move_to(moscow("2027-01-10 23:59:30"))  # the last holiday
        assert (await flow.partner_contracts(partner))[contract_id]["state"] == "processing"
        assert contract_id not in await flow.listed(customer)
        await flow.move_to(moscow("2027-01-11 00:00"))
        await flow.wait_state(partner, contract_id, "active")
        assert contract_id in await flow.listed(customer)
        await flow.mail(partner.email, f"Contract {body['number']} is active")


# ---- ITS-3, ITS-4 -----------------------------------------------------------------------------


async def test_its3_its4_a_subscriber_lists_valid_contracts_on_its_own_registered_products(flow: Contracts) -> None:
    operator = await flow.portal.operator()
    partner = await flow.partner(operator)
    _, [mine, unregistered, theirs] = await flow.product(operator, edition="PROF", count=3)
    customer, other = await flow.customer(), await flow.customer("Boris Ivanov")
    await flow.authorise(partner, mine.number, customer)
    await flow.authorise(partner, theirs.number, other)

    async with flow.clock_at(moscow("2026-12-01 10:00")):
        ids = {}
        for name, main, period in (
            ("valid", mine.number, ("2026-12", "2027-11")),
            ("ends_this_month", mine.number, ("2026-12", "2026-12")),
            ("future", mine.number, ("2028-01", "2028-12")),
            ("unregistered", unregistered.number, ("2026-12", "2027-11")),
            ("theirs", theirs.number, ("2026-12", "2027-11")),
        ):
            ids[name] = (await flow.post_contract(partner, contract_body(main, period))).body["id"]

        await flow.move_to(moscow("2026-12-02 00:00"))
        for contract_id in ids.values():
            await flow.wait_state(partner, contract_id, "active")
        # ITS-3: valid now or for a future period; ITS-4: only on a number registered to the subscriber.
        assert set(await flow.listed(customer)) == {ids["valid"], ids["ends_this_month"], ids["future"]}
        assert set(await flow.listed(other)) == {ids["theirs"]}

        # Past its period the contract expires and leaves the list.
        await flow.move_to(moscow("2027-01-01 00:00"))
        await flow.wait_state(partner, ids["ends_this_month"], "expired")
        assert set(await flow.listed(customer)) == {ids["valid"], ids["future"]}

        # Registering the product brings its contract into the list (ITS-4).
        await flow.authorise(partner, unregistered.number, customer)
        assert set(await flow.listed(customer)) == {ids["valid"], ids["future"], ids["unregistered"]}


# ---- ITS-5 ------------------------------------------------------------------------------------


async def test_its5_why_a_contract_is_not_listed_has_an_answer_for_every_case(flow: Contracts) -> None:
    operator = await flow.portal.operator()
    partner = await flow.partner(operator)
    _, [mine, unregistered] = await flow.product(operator, edition="PROF", count=2)
    customer, stranger = await flow.customer(), await flow.customer("Boris Ivanov")
    await flow.authorise(partner, mine.number, customer)

    async with flow.clock_at(moscow("2026-12-01 10:00")):
        listed = contract_body(mine.number, ("2026-12", "2026-12"))
        # The partner named the subscriber's code, but the product is not registered to it.
        to_register = contract_body(unregistered.number, ("2026-12", "2027-11"), subscriber_code=customer.code)
        listed_id = (await flow.post_contract(partner, listed)).body["id"]
        to_register_id = (await flow.post_contract(partner, to_register)).body["id"]

        processing = await flow.why(customer, listed["number"])
        assert (processing["reason"], processing["processing_until"]) == ("processing", "2026-12-02")
        assert "2026-12-02" in processing["message"]
        assert (await flow.why(customer, to_register["number"]))["reason"] == "processing"

        await flow.move_to(moscow("2026-12-02 00:00"))
        await flow.wait_state(partner, listed_id, "active")
        await flow.wait_state(partner, to_register_id, "active")
        assert (await flow.why(customer, listed["number"]))["reason"] == "listed"
        not_registered = await flow.why(customer, to_register["number"])
        assert not_registered["reason"] == "product_not_registered"
        assert not_registered["register_numbers"] == [unregistered.number]
        assert unregistered.number in not_registered["message"]
        unknown = await flow.why(customer, unique("NO-SUCH-"))
        assert unknown["reason"] == "unknown" and unknown["register_numbers"] == []

        # Another subscriber probing learns nothing: the same answer as for no contract at all.
        for query in ({}, {"registration_number": mine.number}):
            probe = await flow.why(stranger, listed["number"], **query)
            assert (probe["reason"], probe["message"]) == ("unknown", unknown["message"]), probe
            assert probe["processing_until"] is None and probe["ended"] is None and probe["register_numbers"] == []

        await flow.move_to(moscow("2027-01-01 00:00"))
        await flow.wait_state(partner, listed_id, "expired")
        expired = await flow.why(customer, listed["number"])
        assert (expired["reason"], expired["ended"]) == ("expired", "2026-12-31")
        assert listed_id not in await flow.listed(customer)


# ---- ITS-6 ------------------------------------------------------------------------------------


async def test_its6_the_subscriber_reports_wrong_organisation_data_and_the_partner_corrects_it(
    flow: Contracts,
) -> None:
    operator = await flow.portal.operator()
    partner, other_partner = await flow.partner(operator), await flow.partner(operator)
    _, [main] = await flow.product(operator, edition="PROF")
    customer, stranger = await flow.customer("Anna Romanova"), await flow.customer()
    await flow.authorise(partner, main.number, customer)

    async with flow.clock_at(moscow("2026-12-01 10:00")):
        body = contract_body(main.number, ("2026-12", "2027-11"))
        contract_id = (await flow.post_contract(partner, body)).body["id"]
        await flow.move_to(moscow("2026-12-02 00:00"))
        await flow.wait_state(partner, contract_id, "active")
        await wait_for(lambda: flow.listed(customer), timeout=10, what="the contract in the subscriber's list")

        path = f"/v1/contracts/{contract_id}/report-organisation-error"
        message = f"Our TIN is {CORRECTED['tin']} and we are a JSC now ({uuid.uuid4().hex[:6]})"
        not_theirs = await flow.call("POST", path, stranger.token, json={"message": "not ours"})
        assert not_theirs.status == 404, not_theirs.body
        report = await flow.call("POST", path, customer.token, json={"message": message})
        assert report.status == 202 and report.body["partner"] == partner.name, report.body

        [letter] = await flow.mail(partner.email, f"reports wrong organisation data in contract {body['number']}")
        assert customer.code in str(letter["Subject"])
        text = body_text(letter)
        assert message in text and "Romashka LLC" in text and VALID_TIN in text

        # Only the accompanying partner corrects it, and only with valid data.
        patch = f"/v1/contracts/{contract_id}/organisation"
        foreign = await flow.call("PATCH", patch, other_partner.token, json=CORRECTED)
        assert foreign.status == 404, foreign.body
        invalid = await flow.call("PATCH", patch, partner.token, json={**CORRECTED, "tin": "7736050004"})
        assert invalid.status == 422 and error_fields(invalid) == {"tin"}, invalid.body
        by_customer = await flow.call("PATCH", patch, customer.token, json=CORRECTED)
        assert by_customer.status == 403, by_customer.body
        corrected = await flow.call("PATCH", patch, partner.token, json=CORRECTED)
        assert corrected.status == 200 and corrected.body["organisation"] == CORRECTED, corrected.body

        assert (await flow.listed(customer))[contract_id]["organisation"] == CORRECTED


# ---- ITS-7 ------------------------------------------------------------------------------------


async def test_its7_six_free_months_then_a_paid_contract_and_basic_needs_none(flow: Contracts) -> None:
    operator = await flow.portal.operator()
    partner = await flow.partner(operator)
    _, [prof] = await flow.product(operator, edition="PROF")
    _, [basic] = await flow.product(operator, edition="BASIC", pin=True)
    customer, stranger = await flow.customer(), await flow.customer()

    async with flow.clock_at(moscow("2026-12-01 10:00")):
        await flow.authorise(partner, prof.number, customer, purchase_date=date(2026, 10, 20))
        await flow.authorise(partner, basic.number, customer, purchase_date=date(2020, 1, 1))

        now = await flow.coverage(customer, prof.number)
        assert now.status == 200, now.body
        assert (now.body["month"], now.body["covered"], now.body["by"]) == ("2026-12", True, "free_period")
        free = (await flow.coverage(customer, prof.number, "2027-03")).body
        assert (free["covered"], free["by"], free["until"]) == (True, "free_period", "2027-03")
        assert free["free_period"] == {"from": "2026-10", "to": "2027-03"}
        after = (await flow.coverage(customer, prof.number, "2027-04")).body
        assert (after["covered"], after["by"], after["until"]) == (False, None, None)

        contract_id = (await flow.post_contract(partner, contract_body(prof.number, ("2027-04", "2028-03")))).body["id"]
        assert (await flow.coverage(customer, prof.number, "2027-04")).body["covered"] is False  # in processing
        await flow.move_to(moscow("2026-12-02 00:00"))
        await flow.wait_state(partner, contract_id, "active")
        paid = (await flow.coverage(customer, prof.number, "2027-04")).body
        assert (paid["covered"], paid["by"], paid["until"]) == (True, "contract", "2028-03")
        assert (await flow.coverage(customer, prof.number, "2028-04")).body["covered"] is False

        for month in ("2026-12", "2031-01"):
            answer = (await flow.coverage(customer, basic.number, month)).body
            assert (answer["covered"], answer["by"], answer["free_period"]) == (True, "not_required", None)

        theirs = await flow.coverage(stranger, prof.number, "2027-04")
        assert theirs.status == 404, theirs.body


# ---- REG-4 through contracts ------------------------------------------------------------------


async def test_reg4_a_prof_pin_registration_waits_for_a_contract_processed_by_contracts(flow: Contracts) -> None:
    operator = await flow.portal.operator()
    partner = await flow.partner(operator)
    _, [additional, main] = await flow.product(operator, edition="PROF", pin=True, count=2)
    assert additional.pin is not None and main.pin is not None
    customer = await flow.customer()

    async with flow.clock_at(moscow("2026-12-01 10:00")):
        refused = await flow.register_with_pin(customer, additional.number, additional.pin)
        assert refused.status == 422 and problem_type(refused.body).endswith("its-contract-required"), refused.body

        # A contract made for another product lists this one as an additional product.
        body = contract_body(main.number, ("2026-12", "2027-11"), [additional.number])
        contract_id = (await flow.post_contract(partner, body)).body["id"]
        await asyncio.sleep(1)
        in_processing = await flow.register_with_pin(customer, additional.number, additional.pin)
        assert in_processing.status == 422, in_processing.body  # not covered before it is processed (ITS-2)
        assert problem_type(in_processing.body).endswith("its-contract-required")

        await flow.move_to(moscow("2026-12-02 00:00"))
        await flow.wait_state(partner, contract_id, "active")

        async def accepted() -> Reply | None:
            reply = await flow.register_with_pin(customer, additional.number, str(additional.pin))
            if reply.status == 422 and problem_type(reply.body).endswith("its-contract-required"):
                return None  # registration has not had contracts' event yet
            return reply

        reply: Reply = await wait_for(accepted, timeout=15, interval=0.3, what="registration to learn the contract")
        assert reply.status == 202 and reply.body["product"]["edition"] == "PROF", reply.body
        main_reply = await flow.register_with_pin(customer, main.number, main.pin)
        assert main_reply.status == 202, main_reply.body
        assert set(await flow.portal.registrations(customer)) == {additional.number, main.number}


# ---- CMS-1..7 ---------------------------------------------------------------------------------


async def test_cms_maintenance_services_are_activated_with_codes_and_the_partner_is_told(flow: Contracts) -> None:
    operator = await flow.portal.operator()
    seller, accompanying = await flow.partner(operator), await flow.partner(operator)
    first, [main, twin] = await flow.product(operator, edition="PROF", category=1, count=2)
    second, [other] = await flow.product(operator, edition="PROF", category=2)
    customer = await flow.customer("Anna Romanova")
    for issued in (main, twin, other):
        # Bought long ago: their free ITS months (ITS-7), which count as ITS support for CMS-6 too, are over.
        await flow.authorise(seller, issued.number, customer, purchase_date=date(2025, 1, 15))

    async def categories_known() -> bool:
        statuses = [await flow.support_status(customer, main.number, first)]
        statuses.append(await flow.support_status(customer, other.number, second))
        return all(s["maintenance_service"] is not None for s in statuses)

    await wait_for(categories_known, timeout=15, interval=0.2, what="contracts to learn the categories")

    async with flow.clock_at(moscow("2026-12-01 10:00")):
        # CMS-4: the vendor issues codes (for envelopes and online sale); only operators do.
        code, second_code = await flow.codes(category=1, months=3, count=2)
        [category_two] = await flow.codes(category=2, months=12)
        by_customer = await flow.call(
            "POST", "/v1/maintenance-services/codes", customer.token, json={"category": 1, "months": 3, "count": 1}
        )
        assert by_customer.status == 403, by_customer.body

        # CMS-2: a first-category code does not fit a second-category configuration.
        mismatch = await flow.activate(customer, code, other.number, "2026-12")
        assert mismatch.status == 422 and mismatch.body["reason"] == "category-mismatch", mismatch.body
        # CMS-5: not before the current month.
        early = await flow.activate(customer, code, main.number, "2026-11")
        assert early.status == 422 and early.body["reason"] == "start-too-early", early.body

        # CMS-6: no ITS contract: activated all the same, with a warning; the partner is chosen later (CMS-7).
        activation = await flow.activate(customer, code, main.number, "2026-12")
        assert activation.status == 201, activation.body
        assert activation.body["configuration"] == first and activation.body["category"] == 1
        assert activation.body["period"] == {"from": "2026-12", "to": "2027-02"}
        assert activation.body["warning"] and "ITS contract" in activation.body["warning"]
        assert (activation.body["partner_choice"], activation.body["partner"]) == ("choose-later", None)
        # CMS-3: one activation covers both products with this configuration.
        assert sorted(activation.body["registration_numbers"]) == sorted([main.number, twin.number])
        assert activation.body["covered_now"] is True
        for number in (main.number, twin.number):
            status = await flow.support_status(customer, number, first)
            assert status["maintenance_service"] == "OK" and status["maintenance_until"] == "2027-02-28"
        assert (await flow.support_status(customer, other.number, second))["maintenance_service"] == "NO_ACTIVATIONS"

        # A code works once.
        again = await flow.activate(customer, code, twin.number, "2026-12")
        assert again.status == 409, again.body

        # CMS-7: without a valid contract nobody accompanies yet: a partner cannot be chosen, later as at activation.
        choose = f"/v1/maintenance-services/{activation.body['id']}/partner"
        early_choice = await flow.call("PUT", choose, customer.token, json={"partner_id": accompanying.id})
        assert early_choice.status == 422, early_choice.body
        assert early_choice.body["reason"] == "partner-not-accompanying", early_choice.body

        # Contracts arrive: the seller's for the second configuration's product, the accompanying partner's for
        # the first's main product through January only.
        contract_ids = [
            (await flow.post_contract(seller, contract_body(other.number, ("2026-12", "2027-11")))).body["id"],
            (await flow.post_contract(accompanying, contract_body(main.number, ("2026-12", "2027-01")))).body["id"],
        ]
        await flow.move_to(moscow("2026-12-02 00:00"))
        await flow.wait_state(seller, contract_ids[0], "active")
        await flow.wait_state(accompanying, contract_ids[1], "active")

        # CMS-7: the partner chosen later is told by e-mail; CMS-6: the warning is as of now (February uncovered).
        chosen = await flow.call("PUT", choose, customer.token, json={"partner_id": accompanying.id})
        assert chosen.status == 200, chosen.body
        assert (chosen.body["partner"], chosen.body["partner_choice"]) == (accompanying.name, "chosen")
        assert "2027-02 of the maintenance period" in chosen.body["warning"], chosen.body
        subject = f"Maintenance of {first} activated"
        [letter] = await flow.mail(accompanying.email, subject)
        assert customer.code in str(letter["Subject"])
        text = body_text(letter)
        assert main.number in text and twin.number in text and "Warning:" in text
        twice = await flow.call("PUT", choose, customer.token, json={"partner_id": seller.id})
        assert twice.status == 409, twice.body

        # With a valid ITS contract on the product: no warning. The subscriber has contracts of two partners
        # during the period, so it chooses one explicitly (CMS-7); the chosen partner is told.
        unchosen = await flow.activate(customer, category_two, other.number, "2026-12")
        assert unchosen.status == 422 and unchosen.body["reason"] == "choose-partner", unchosen.body
        assert sorted(unchosen.body["choices"]) == sorted([seller.id, accompanying.id])
        covered = await flow.activate(customer, category_two, other.number, "2026-12", partner_id=seller.id)
        assert covered.status == 201, covered.body
        assert (covered.body["configuration"], covered.body["period"]) == (second, {"from": "2026-12", "to": "2027-11"})
        assert covered.body["warning"] is None
        assert (covered.body["partner_choice"], covered.body["partner"]) == ("chosen", seller.name)
        assert covered.body["registration_numbers"] == [other.number]
        [letter] = await flow.mail(seller.email, f"Maintenance of {second} activated")
        assert "Warning:" not in body_text(letter) and other.number in body_text(letter)
        # A later period of the first configuration: the subscriber's contract then (the seller's) decides the
        # partner (CMS-7), but it lists no product of the first configuration, so it covers none of its
        # maintenance (CMS-6): warned.
        later = await flow.activate(customer, second_code, twin.number, "2027-03")
        assert later.status == 201, later.body
        assert (later.body["configuration"], later.body["period"]) == (first, {"from": "2027-03", "to": "2027-05"})
        assert (later.body["partner_choice"], later.body["partner"]) == ("contract", seller.name)
        assert "2027-03..2027-05 of the maintenance period" in later.body["warning"], later.body
        await flow.mail(seller.email, f"Maintenance of {first} activated")

        listed = await flow.call("GET", "/v1/maintenance-services", customer.token)
        assert listed.status == 200, listed.body
        assert {item["id"] for item in listed.body["items"]} == {
            activation.body["id"],
            covered.body["id"],
            later.body["id"],
        }

    # The accompanying partner had exactly one letter: none while no partner was chosen.
    assert len([m for m in read_mail(flow.mail_dir, accompanying.email) if subject in str(m["Subject"])]) == 1


# ---- MON-1 ------------------------------------------------------------------------------------


async def test_mon1_a_client_program_learns_whether_its_product_is_supported(flow: Contracts) -> None:
    operator = await flow.portal.operator()
    partner = await flow.partner(operator)
    configuration, [prof] = await flow.product(operator, edition="PROF", category=1)
    basic_configuration, [basic] = await flow.product(operator, edition="BASIC", pin=True)
    unrelated = await flow.portal.configuration(operator, "Payroll", 1)
    customer, stranger = await flow.customer(), await flow.customer()
    await flow.authorise(partner, prof.number, customer, purchase_date=date(2025, 1, 15))  # free months long gone
    await flow.authorise(partner, basic.number, customer)

    async with flow.clock_at(moscow("2026-12-01 10:00")):

        async def status() -> dict[str, Any]:
            return await flow.support_status(customer, prof.number, configuration)

        async def with_category() -> dict[str, Any] | None:
            answer = await status()
            return answer if answer["maintenance_service"] is not None else None

        # (a) registered, no contract, no activation.
        bare = await wait_for(with_category, timeout=15, interval=0.2, what="contracts to learn the category")
        assert (bare["registration"], bare["its_contract"], bare["maintenance_service"], bare["overall"]) == (
            "REGISTERED",
            "NO_CONTRACT",
            "NO_ACTIVATIONS",
            "NOT_COMPLIED",
        )
        assert bare["its_until"] is None and bare["contracts"] == [] and bare["partner"] is None

        # (b) a contract ending this month: WARNING (30 days or fewer left).
        contract_id = (await flow.post_contract(partner, contract_body(prof.number, ("2026-12", "2026-12")))).body["id"]
        await flow.move_to(moscow("2026-12-02 00:00"))
        await flow.wait_state(partner, contract_id, "active")
        ending = await status()
        assert (ending["its_contract"], ending["its_covered_by"], ending["its_until"]) == (
            "WARNING",
            "contract",
            "2026-12-31",
        )
        assert (ending["maintenance_service"], ending["overall"]) == ("NO_ACTIVATIONS", "NOT_COMPLIED")
        assert ending["partner"] == {"name": partner.name, "email": partner.email}
        assert ending["contracts"][0]["period"] == {"from": "2026-12", "to": "2026-12"}
        # REG-6: a configuration the product does not include: not supported for it, maintenance left out.
        not_on_product = await flow.support_status(customer, prof.number, unrelated)
        assert (not_on_product["configuration"], not_on_product["overall"]) == ("NOT_INCLUDED", "NOT_COMPLIED")
        assert not_on_product["maintenance_service"] is None

        # (c) contract and activation: each as its dates say.
        [code] = await flow.codes(category=1, months=6)
        activation = await flow.activate(customer, code, prof.number, "2026-12")
        assert activation.status == 201, activation.body
        both = await status()
        assert (both["its_contract"], both["maintenance_service"], both["overall"]) == ("WARNING", "OK", "WARNING")
        assert both["maintenance_until"] == "2027-05-31"
        assert both["activations"] == [{"configuration": configuration, "period": {"from": "2026-12", "to": "2027-05"}}]
        # The next year's contract, back to back: no longer ending soon.
        next_id = (await flow.post_contract(partner, contract_body(prof.number, ("2027-01", "2027-12")))).body["id"]
        await flow.move_to(moscow("2026-12-03 00:00"))
        await flow.wait_state(partner, next_id, "active")
        fine = await status()
        assert (fine["its_contract"], fine["its_until"], fine["maintenance_service"], fine["overall"]) == (
            "OK",
            "2027-12-31",
            "OK",
            "OK",
        )

        # (d) a number not registered to the caller: nothing else is told.
        theirs = await flow.support_status(stranger, prof.number, configuration)
        assert theirs == {**theirs, "registration": "NOT_REGISTERED", "overall": "NOT_COMPLIED"}
        assert theirs["its_contract"] is None and theirs["contracts"] == [] and theirs["partner"] is None
        # A BASIC product needs no contract (ITS-7): the condition is left out.
        plain = await flow.support_status(customer, basic.number, basic_configuration)
        assert (plain["registration"], plain["its_contract"], plain["maintenance_service"], plain["overall"]) == (
            "REGISTERED",
            None,
            None,
            "OK",
        )


# ---- webhook ----------------------------------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[RunningApp, list[tuple[dict[str, str], bytes]]]]:
    """A partner system's endpoint for contract outcomes."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/its-hook", hook)
    async with RunningApp(app) as running:
        yield running, received


async def webhook_set(flow: Contracts, endpoint: RunningApp) -> tuple[Partner, str, Issued]:
    """A partner whose system takes contract outcomes at `endpoint`; its webhook's secret; a product's number."""
    operator = await flow.portal.operator()
    partner = await flow.partner(operator)
    _, [main] = await flow.product(operator, edition="PROF")
    url = f"{endpoint.url}/its-hook"
    hook = await flow.call("POST", "/v1/partner/webhook", partner.token, json={"url": url})
    assert hook.status == 200 and len(hook.body["secret"]) >= 32, hook.body
    shown = await flow.call("GET", "/v1/partner/webhook", partner.token)
    assert shown.status == 200 and shown.body == {"url": url, "secret": None}, shown.body  # the secret shown once
    return partner, str(hook.body["secret"]), main


async def test_a_partner_system_learns_the_activation_by_a_signed_webhook(
    flow: Contracts, receiver: tuple[RunningApp, list[tuple[dict[str, str], bytes]]]
) -> None:
    endpoint, received = receiver
    partner, secret, main = await webhook_set(flow, endpoint)
    remote = await flow.call("POST", "/v1/partner/webhook", partner.token, json={"url": "http://example.com/hook"})
    assert remote.status == 422, remote.body  # plain http only to this machine

    async with flow.clock_at(moscow("2026-12-01 10:00")):
        body = contract_body(main.number, ("2026-12", "2027-11"))
        contract_id = (await flow.post_contract(partner, body)).body["id"]
        await asyncio.sleep(1)
        assert received == []  # nothing before the contract is processed
        await flow.move_to(moscow("2026-12-02 00:00"))
        await flow.wait_state(partner, contract_id, "active")
        await wait_for(lambda: received, timeout=15, interval=0.2, what="the webhook delivery")

    headers, payload = received[0]
    assert headers["X-ITS-Event"] == "contracts.contract.activated"
    parts = dict(part.split("=", 1) for part in headers["X-ITS-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + payload, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(int(parts["t"]) - time.time()) < 120  # signed now: a captured delivery cannot be replayed later
    event = json.loads(payload)
    assert event["type"] == "contracts.contract.activated" and headers["X-ITS-Delivery"] == event["id"]
    assert event["data"]["contract_id"] == contract_id and event["data"]["number"] == body["number"]
    assert event["data"]["main_registration_number"] == main.number


async def test_a_webhook_delivery_the_partner_accepted_is_not_sent_again(
    flow: Contracts, receiver: tuple[RunningApp, list[tuple[dict[str, str], bytes]]]
) -> None:
    endpoint, received = receiver
    partner, _, main = await webhook_set(flow, endpoint)

    async with flow.clock_at(moscow("2026-12-01 10:00")):
        contract_id = (await flow.post_contract(partner, contract_body(main.number, ("2026-12", "2027-11")))).body["id"]
        await flow.move_to(moscow("2026-12-02 00:00"))
        await flow.wait_state(partner, contract_id, "active")
        await wait_for(lambda: received, timeout=15, interval=0.2, what="the webhook delivery")
        # The receiver answered 204: an hour later (past every retry back-off) nothing more has come.
        await flow.move_to(moscow("2026-12-02 01:00"))
        await asyncio.sleep(1.5)
    deliveries = [headers["X-ITS-Delivery"] for headers, _ in received]
    assert len(deliveries) == 1, f"the accepted delivery was sent {len(deliveries)} times: {deliveries}"
