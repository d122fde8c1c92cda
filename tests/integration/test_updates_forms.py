"""Regulated reporting forms (DAT-2) against the real PostgreSQL, RabbitMQ and content storage: operators draft a
form version, upload its file (checked against its sha256 and size), publish and withdraw it, the events going out
through the outbox; client programs ask which forms they should receive and download them through the same signed
links and entitlement as kits (UPD-4); subscribers list a configuration's forms (UPD-3)."""

from __future__ import annotations

import asyncio
import base64
import io
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from itsctl._http import Api
from itsctl.form_publishing import FormToPublish, publish_form
from services.updates.keys import STORAGE
from shared.events.updates import ReportingFormPublished, ReportingFormWithdrawn
from tests.drawn import form_code
from tests.infra import wait_for
from tests.integration.updates_fixtures import (
    MAX_KIT_BYTES,
    PROBLEM,
    Customer,
    World,
    keys,
    kit_bytes,
    kits_dir,
    pool,
    publisher,
    sha,
    updates,
    world,
)

__all__ = ["keys", "kits_dir", "pool", "publisher", "updates", "world"]  # fixtures


def form_draft(configurations: list[str], data: bytes, **overrides: Any) -> dict[str, Any]:
    """A complete DAT-2 draft of a form version with its file."""
    return {
        "name": "VAT return",
        "applies_from": "2027-01-01",
        "configurations": configurations,
        "basis": {"number": "ED-7-3/1093@", "date": "2026-10-05"},
        "changes": "New section 3.1 for **agents**.",
        "file": {"name": "VAT_1151001_5.05.zip", "size": len(data), "sha256": sha(data)},
        **overrides,
    }


async def declare(world: World, code: str, version: str, body: dict[str, Any]) -> tuple[int, Any]:
    return await world.call("PUT", f"/v1/forms/{code}/versions/{version}", world.operator(), json=body)


async def upload(world: World, form_id: str, data: Any) -> tuple[int, Any]:
    headers = {**world.operator(), "Content-Type": "application/octet-stream"}
    body = io.BytesIO(data) if isinstance(data, bytes) else data
    return await world.call("PUT", f"/v1/form-versions/{form_id}/file", headers, data=body)


async def act(world: World, form_id: str, action: str, **kw: Any) -> tuple[int, Any]:
    return await world.call("POST", f"/v1/form-versions/{form_id}/{action}", world.operator(), **kw)


async def published(world: World, code: str, version: str, configurations: list[str]) -> dict[str, Any]:
    """A form version drafted, its file uploaded and published; the published version."""
    data = kit_bytes(f"{code}-{version}", 5000)
    status, draft = await declare(world, code, version, form_draft(configurations, data, name=f"Form {code}"))
    assert status in (200, 201), draft
    status, answer = await upload(world, draft["id"], data)
    assert status in (200, 201), answer
    status, form = await act(world, draft["id"], "publish")
    assert status == 200 and form["state"] == "published", form
    return dict(form)


async def outbox(world: World, event_type: str, form_id: str) -> list[dict[str, Any]]:
    async with world.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT envelope FROM outbox WHERE routing_key = $1 AND envelope->'data'->>'form_id' = $2",
            event_type,
            form_id,
        )
    return [row["envelope"] for row in rows]


async def ask(world: World, customer: Customer, configuration: str, held: dict[str, str], **kw: Any) -> tuple[int, Any]:
    body = {"configuration": configuration, "forms": held}
    return await world.call("POST", "/v1/forms/updates", world.member(customer, **kw), json=body)


# ---- operators: draft → upload → publish → withdraw ----------------------------------------------


async def test_dat2_a_form_goes_from_draft_through_upload_to_published_and_withdrawn(world: World) -> None:
    configuration = await world.configuration()
    code, data = form_code(), kit_bytes("vat-5.05", 40_000)
    status, draft = await declare(world, code, "5.05", form_draft([configuration], data))
    assert status == 201 and draft["state"] == "draft" and draft["file"]["uploaded"] is False
    # Writing the draft again replaces it: same id.
    status, again = await declare(world, code, "5.05", form_draft([configuration], data, name="VAT return (new)"))
    assert status == 200 and again["id"] == draft["id"] and again["name"] == "VAT return (new)"
    form_id = draft["id"]

    # Publishing waits for the file.
    status, problem = await act(world, form_id, "publish")
    assert status == 409 and problem["type"] == PROBLEM + "form-file-missing"
    assert await outbox(world, ReportingFormPublished.TYPE, form_id) == []

    status, uploaded = await upload(world, form_id, data)
    assert status == 201 and uploaded["file"]["uploaded"] is True
    assert await world.app.app[STORAGE].has(sha(data))
    status, _ = await upload(world, form_id, data)
    assert status == 200  # stored already

    status, form = await act(world, form_id, "publish")
    assert status == 200 and form["state"] == "published" and form["published_at"]
    [event] = await outbox(world, ReportingFormPublished.TYPE, form_id)
    assert event["data"]["code"] == code and event["data"]["version"] == "5.05"
    assert event["data"]["configurations"] == [configuration]
    assert event["data"]["basis_number"] == "ED-7-3/1093@" and event["data"]["applies_from"] == "2027-01-01"

    async def relayed() -> bool:
        async with world.pool.acquire() as conn:
            return bool(
                await conn.fetchval(
                    "SELECT published_at IS NOT NULL FROM outbox WHERE envelope->'data'->>'form_id' = $1", form_id
                )
            )

    await wait_for(relayed, what="the form's event on the bus")

    # Again: the same answer, no second event. A published version never changes.
    status, same = await act(world, form_id, "publish")
    assert status == 200 and same["published_at"] == form["published_at"]
    assert len(await outbox(world, ReportingFormPublished.TYPE, form_id)) == 1
    status, problem = await declare(world, code, "5.05", form_draft([configuration], data, name="changed"))
    assert status == 409 and problem["type"] == PROBLEM + "form-not-draft"

    # "5.5" is "5.05" spelled otherwise (versions are compared by their numbers): not a second version.
    status, problem = await declare(world, code, "5.5", form_draft([configuration], data))
    assert status == 409 and problem["type"] == PROBLEM + "form-version-spelled-otherwise"

    status, listed = await world.call("GET", f"/v1/forms?code={code}", world.operator())
    assert status == 200 and [(f["version"], f["state"]) for f in listed["items"]] == [("5.05", "published")]

    status, withdrawn = await act(world, form_id, "withdraw", json={"reason": "Order revoked"})
    assert status == 200 and withdrawn["state"] == "withdrawn" and withdrawn["withdrawn_reason"] == "Order revoked"
    [event] = await outbox(world, ReportingFormWithdrawn.TYPE, form_id)
    assert event["data"]["reason"] == "Order revoked"
    status, _ = await act(world, form_id, "withdraw", json={"reason": "again"})
    assert status == 200 and len(await outbox(world, ReportingFormWithdrawn.TYPE, form_id)) == 1
    status, problem = await act(world, form_id, "publish")
    assert status == 409 and problem["type"] == PROBLEM + "form-withdrawn"


async def test_dat2_a_file_that_is_not_what_was_declared_leaves_nothing(world: World, kits_dir: Path) -> None:
    configuration = await world.configuration()
    declared = kit_bytes("declared-form", 20_000)
    status, draft = await declare(world, form_code(), "1.1", form_draft([configuration], declared))
    assert status == 201
    before = await asyncio.to_thread(lambda: sorted(p.name for p in kits_dir.rglob("*") if p.is_file()))

    other = kit_bytes("other-form", 20_000)  # same size, other bytes
    status, problem = await upload(world, draft["id"], other)
    assert status == 422 and problem["type"] == PROBLEM + "kit-mismatch"
    status, problem = await upload(world, draft["id"], declared[:-1])  # another length
    assert status == 422 and problem["type"] == PROBLEM + "kit-mismatch"

    assert not await world.app.app[STORAGE].has(sha(other))
    assert not await world.app.app[STORAGE].has(sha(declared))
    after = await asyncio.to_thread(lambda: sorted(p.name for p in kits_dir.rglob("*") if p.is_file()))
    assert after == before
    status, problem = await act(world, draft["id"], "publish")
    assert status == 409 and problem["type"] == PROBLEM + "form-file-missing"

    # Too large: refused before it is read (413), or already when declared (422).
    status, problem = await upload(world, draft["id"], b"x" * (MAX_KIT_BYTES + 1))
    assert status == 413, problem
    big = {"name": "big.zip", "size": MAX_KIT_BYTES + 1, "sha256": sha(b"big")}
    status, problem = await declare(world, form_code(), "1.1", form_draft([configuration], declared, file=big))
    assert status == 422 and problem["errors"][0]["field"] == "file.size", problem
    # Not an octet stream: 415.
    headers = {**world.operator(), "Content-Type": "text/plain"}
    status, problem = await world.call("PUT", f"/v1/form-versions/{draft['id']}/file", headers, data=declared)
    assert status == 415, problem


async def test_dat2_bad_drafts_are_refused_and_store_nothing(world: World) -> None:
    configuration = await world.configuration()
    data = kit_bytes("bad", 100)
    code = form_code()
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("1.0", form_draft(["NoSuchConfiguration"], data), "configurations.0"),
        ("1.0", form_draft([configuration, configuration], data), "configurations"),
        ("1.0", form_draft([], data), "configurations"),
        ("1.0", form_draft([configuration], data, file={"name": "../x", "size": 1, "sha256": sha(data)}), "file.name"),
        ("1.0", form_draft([configuration], data, file={"name": "f.zip", "size": 1, "sha256": "XYZ"}), "file.sha256"),
        ("1.0", form_draft([configuration], data, basis={"number": "", "date": "2026-01-01"}), "basis.number"),
        ("1.0", form_draft([configuration], data, applies_from="soon"), "applies_from"),
        ("1.0", form_draft([configuration], data, name="\x00"), "name"),
    ]
    for version, body, field in cases:
        status, problem = await declare(world, code, version, body)
        assert status == 422, (field, problem)
        assert any(e["field"].startswith(field) for e in problem["errors"]), (field, problem)
    for version in ("1", "1.0.x", "٣.0", "1..0", "+1.0", "1.2.3.4.5.6.7"):
        status, problem = await declare(world, code, version, form_draft([configuration], data))
        assert status in (404, 422), (version, problem)
    status, problem = await declare(world, "bad/code", "1.0", form_draft([configuration], data))
    assert status in (404, 422)
    async with world.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM reporting_forms WHERE code = $1", code) == 0

    # A forged list cursor (a NUL in its code) is a 422, never a database error.
    forged = base64.urlsafe_b64encode(b"f1:11\x0001\x1f5.1").decode().rstrip("=")
    status, problem = await world.call("GET", f"/v1/forms?cursor={forged}", world.operator())
    assert status == 422, problem
    status, problem = await world.call("GET", "/v1/forms?cursor=bm90LW91cnM&limit=0", world.operator())
    assert status == 422, problem

    # Only operators write forms.
    customer = await world.customer()
    status, problem = await world.call(
        "PUT", f"/v1/forms/{code}/versions/1.0", world.member(customer), json=form_draft([configuration], data)
    )
    assert status == 403
    status, problem = await world.call("POST", f"/v1/form-versions/{uuid.uuid4()}/publish", world.operator())
    assert status == 404 and problem["type"] == PROBLEM + "form-not-found"
    status, problem = await world.call("POST", "/v1/form-versions/not-a-uuid/publish", world.operator())
    assert status == 404


# ---- client programs ---------------------------------------------------------------------------


async def test_dat2_a_program_receives_the_forms_newer_than_it_holds_and_downloads_them(world: World) -> None:
    configuration, other = await world.configuration(), await world.configuration()
    vat, profit, payroll = form_code(), form_code(), form_code()
    await published(world, vat, "5.4", [configuration])
    newest_vat = await published(world, vat, "5.10", [configuration, other])  # 5.10 is newer than 5.4
    await published(world, profit, "2.1", [configuration])
    await published(world, payroll, "1.0", [other])  # another configuration's
    withdrawn = await published(world, profit, "2.2", [configuration])
    status, _ = await act(world, withdrawn["id"], "withdraw", json={"reason": "wrong"})
    assert status == 200

    basic = await world.customer()
    await world.register(basic, [configuration], edition="BASIC")  # BASIC needs no contract (UPD-4)

    # Holding the VAT return 5.4, nothing of the profit tax return: both are sent, the newest published of each.
    status, answer = await ask(world, basic, configuration, {vat: "5.4"})
    assert status == 200, answer
    assert [(f["code"], f["version"]) for f in answer["forms"]] == sorted([(vat, "5.10"), (profit, "2.1")])
    sent = next(f for f in answer["forms"] if f["code"] == vat)
    assert sent["file"]["sha256"] == newest_vat["file"]["sha256"] and sent["basis_number"] == "ED-7-3/1093@"

    # The link is the kits' signed link: the file, byte for byte.
    path = sent["file"]["url"][sent["file"]["url"].index("/dl/") :]
    async with world.app.http.get(path) as response:
        assert response.status == 200 and await response.read() == kit_bytes(f"{vat}-5.10", 5000)
    async with world.app.http.get(path.replace("sig=", "sig=A")) as response:
        assert response.status == 403  # tampered

    # Up to date: nothing. Holding a newer version than any published: not sent an older one.
    status, answer = await ask(world, basic, configuration, {vat: "5.10", profit: "2.3"})
    assert status == 200 and answer["forms"] == []

    # The configuration's forms with their history (UPD-3): withdrawn versions are not listed.
    status, listed = await world.call("GET", f"/v1/configurations/{configuration}/forms", world.member(basic))
    assert status == 200
    assert [(f["code"], [v["version"] for v in f["versions"]]) for f in listed["forms"]] == sorted(
        [(vat, ["5.10", "5.4"]), (profit, ["2.1"])]
    )

    # An older version of the history, through the same signed link (303, or the link as JSON).
    older = next(v for f in listed["forms"] if f["code"] == vat for v in f["versions"] if v["version"] == "5.4")
    async with world.app.http.get(
        f"/v1/form-versions/{older['id']}/download", headers=world.member(basic), allow_redirects=False
    ) as response:
        assert response.status == 303 and "/dl/" in response.headers["Location"]
    status, link = await world.call(
        "GET", f"/v1/form-versions/{older['id']}/download", {**world.member(basic), "Prefer": "no-redirect"}
    )
    assert status == 200 and link["name"] == "VAT_1151001_5.05.zip" and link["size"] == 5000
    async with world.app.http.get(link["url"][link["url"].index("/dl/") :]) as response:
        assert await response.read() == kit_bytes(f"{vat}-5.4", 5000)
    # A withdrawn version, or no such version: 404.
    for form_id in (withdrawn["id"], str(uuid.uuid4()), "not-a-uuid"):
        status, problem = await world.call("GET", f"/v1/form-versions/{form_id}/download", world.member(basic))
        assert status == 404, problem


async def test_dat2_upd4_programs_not_entitled_are_refused_with_the_offer(world: World) -> None:
    configuration = await world.configuration()
    code = form_code()
    await published(world, code, "1.0", [configuration])

    # Not registered for the configuration: 403 with the offer of the products that include it (UPD-3, REG-6).
    stranger = await world.customer()
    await world.register(stranger, [await world.configuration()], edition="BASIC")
    status, problem = await ask(world, stranger, configuration, {})
    assert status == 403 and problem["type"] == PROBLEM + "configuration-not-registered" and "offer" in problem
    status, problem = await world.call("GET", f"/v1/configurations/{configuration}/forms", world.member(stranger))
    assert status == 403
    second = await published(world, form_code(), "1.0", [configuration])
    form_id = second["id"]
    status, problem = await world.call("GET", f"/v1/form-versions/{form_id}/download", world.member(stranger))
    assert status == 403 and problem["type"] == PROBLEM + "configuration-not-registered" and "offer" in problem

    # PROF bought long ago, no ITS contract: 402 with the current month's subscription (UPD-4, ITS-7).
    lapsed = await world.customer()
    await world.register(
        lapsed, [configuration], edition="PROF", purchase_date=world.clock.now().date().replace(year=2020)
    )
    status, problem = await ask(world, lapsed, configuration, {})
    assert status == 402 and problem["offer"]["kind"] == "its-subscription"
    status, problem = await world.call("GET", f"/v1/form-versions/{form_id}/download", world.member(lapsed))
    assert status == 402 and problem["offer"]["kind"] == "its-subscription"
    # ... but it sees the forms' history (UPD-3).
    status, listed = await world.call("GET", f"/v1/configurations/{configuration}/forms", world.member(lapsed))
    assert status == 200 and [f["code"] for f in listed["forms"]] == sorted([code, second["code"]])

    # A user without the ITS access right (SUB-5): 403.
    basic = await world.customer()
    await world.register(basic, [configuration], edition="BASIC")
    status, problem = await ask(world, basic, configuration, {}, role="user", rights=())
    assert status == 403 and problem["type"].endswith("its-access-right-missing"), problem


async def test_dat2_malformed_questions_are_4xx_problems(world: World) -> None:
    customer = await world.customer()
    configuration = await world.configuration()
    await world.register(customer, [configuration], edition="BASIC")
    bad_bodies: list[Any] = [
        {"configuration": configuration, "forms": {"1151001": "5.01.x"}},
        {"configuration": configuration, "forms": {"1151001": "5"}},
        {"configuration": configuration, "forms": {"1151001": 5.01}},
        {"configuration": configuration, "forms": {"1151001": " 5.01"}},
        {"configuration": configuration, "forms": {"bad code/": "5.1"}},
        {"configuration": configuration, "forms": ["1151001"]},
        {"configuration": "", "forms": {}},
        {"configuration": configuration, "forms": {}, "extra": 1},
        {"forms": {}},
        [],
        "null",
    ]
    for body in bad_bodies:
        status, problem = await world.call("POST", "/v1/forms/updates", world.member(customer), json=body)
        assert status == 422, (body, problem)
    status, problem = await world.call(
        "POST", "/v1/forms/updates", {**world.member(customer), "Content-Type": "application/json"}, data=b"{not json"
    )
    assert 400 <= status < 500
    # An unknown configuration: the subscriber does not hold it.
    status, problem = await ask(world, customer, "NoSuchConfiguration", {})
    assert status == 403
    # No token: 401.
    status, problem = await world.call("POST", "/v1/forms/updates", json={"configuration": configuration})
    assert status == 401


# ---- itsctl ------------------------------------------------------------------------------------


async def test_dat2_itsctl_publishes_a_form_and_can_run_it_again(world: World, tmp_path: Path) -> None:
    configuration = await world.configuration()
    data = kit_bytes("itsctl-form", 30_000)
    (tmp_path / "VAT_5.01.zip").write_bytes(data)
    form = FormToPublish(
        code=form_code(),
        version="5.01",
        file=tmp_path / "VAT_5.01.zip",
        name="VAT return",
        applies_from=date(2027, 1, 1),
        configurations=(configuration,),
        basis_number="ED-7-3/1093@",
        basis_date=date(2026, 10, 5),
        changes="Section 3.1.",
    )
    api = Api(world.app.http, "updates", world.app.url, world.operator()["Authorization"].removeprefix("Bearer "))

    # An interrupted earlier run: declared, the file not uploaded.
    status, _ = await declare(world, form.code, "5.01", form_draft([configuration], data, name="VAT return"))
    assert status == 201
    outcome = await publish_form(api, form)
    assert outcome.state == "published" and outcome.uploaded
    [event] = await outbox(world, ReportingFormPublished.TYPE, str(outcome.form_id))
    assert event["data"]["version"] == "5.01" and event["data"]["basis_date"] == "2026-10-05"

    # Again: the file is not read (it is gone), nothing changes, no second event.
    (tmp_path / "VAT_5.01.zip").unlink()
    again = await publish_form(api, form)
    assert again.state == "already published" and again.form_id == outcome.form_id
    assert len(await outbox(world, ReportingFormPublished.TYPE, str(outcome.form_id))) == 1


async def test_dat2_the_demo_publishes_two_forms_and_loads_again_harmlessly(world: World, tmp_path: Path) -> None:
    from devtools.demo.updates import demo_forms
    from shared.events.registration import ConfigurationChanged
    from shared.settings import BaseServiceSettings

    forms = await asyncio.to_thread(demo_forms, BaseServiceSettings(var_dir=tmp_path))
    assert len(forms) == 2 and all(f.file.is_file() for f in forms)
    for code in sorted({c for f in forms for c in f.configurations}):  # registration's demo catalogue
        await world.publish(ConfigurationChanged(code=code, name=code, maintenance_category=1, vendor="1C"))
        await world.wait_for_row("SELECT 1 FROM configurations WHERE code = $1", code)
    api = Api(world.app.http, "updates", world.app.url, world.operator()["Authorization"].removeprefix("Bearer "))

    first = [await publish_form(api, form) for form in forms]
    assert {o.state for o in first} <= {"published", "already published"}
    again = [
        await publish_form(api, form)
        for form in await asyncio.to_thread(demo_forms, BaseServiceSettings(var_dir=tmp_path))
    ]
    assert {o.state for o in again} == {"already published"}
    status, listed = await world.call("GET", "/v1/forms?configuration=Accounting&state=published", world.operator())
    assert status == 200 and {(f["code"], f["version"]) for f in listed["items"]} >= {
        ("1151001", "5.01"),
        ("1151100", "2.03"),
    }
