"""Releases and updates end to end (rules UPD-1..6 with REG-6, ITS-7, SUB-5): identity, registration, contracts,
updates and notifications as real processes, registration's and contracts' events feeding updates' entitlement
read model, kits uploaded by an operator and downloaded through signed links by curl, as a client program would.

Every test makes its own configuration, products, accounts and releases, so the tests do not depend on each other.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.updates.api_models import UpdatePlan
from tests.e2e.conftest import read_mail
from tests.e2e.contracts_flows import MOSCOW, Contracts, contract_body, contracts_db, flow, moscow, registration_db
from tests.e2e.flows import PROBLEMS, Customer, Reply, body_text, problem_type, unique
from tests.infra import ServiceProcess, wait_for

__all__ = ["contracts_db", "flow", "registration_db"]  # fixtures

LONG_AGO = date(2025, 3, 3)  # the free period (ITS-7) ended long ago


@dataclass
class Updates:
    """updates as its users see it: operators publishing, subscribers and client programs reading and
    downloading."""

    flow: Contracts
    url: str
    tmp: Path

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Reply:
        return await self.flow.portal.call(method, f"{self.url}{path}", token, **kw)

    async def release(
        self,
        operator: str,
        configuration: str,
        version: str,
        updates_from: list[str],
        *,
        min_platform: str = "8.3.24.1342",
        prerelease: bool = False,
        update_size: int = 200_000,
    ) -> dict[str, bytes]:
        """A configuration release with a full kit and an update package of `update_size` bytes, uploaded and
        published (UPD-1)."""
        kits = {
            f"{configuration}_{version.replace('.', '_')}.cfu": os.urandom(update_size),
            f"{configuration}_{version.replace('.', '_')}_setup.zip": os.urandom(50_000),
        }
        draft = await self.call(
            "PUT",
            f"/v1/configurations/{configuration}/releases/{version}",
            operator,
            json={
                "release_date": "2026-11-20",
                "its_issue": "ITS 2026/11",
                "prerelease": prerelease,
                "whats_new": f"**{version}**: faster closing of the month",
                "changes": "- closing of the month\n- VAT returns",
                "major_changes": ["The VAT return form of 2027"],
                "update_procedure": "Back up the infobase, then apply the `.cfu` package.",
                "min_platform": min_platform,
                "updates_from": updates_from,
                "kits": [
                    {
                        "name": name,
                        "kind": "update" if name.endswith(".cfu") else "full",
                        "size": len(content),
                        "sha256": hashlib.sha256(content).hexdigest(),
                    }
                    for name, content in kits.items()
                ],
            },
        )
        assert draft.status in (200, 201), draft.body
        await self.upload_and_publish(operator, str(draft.body["id"]), kits)
        return kits

    async def platform_release(self, operator: str, version: str, grade: str = "recommended") -> dict[str, bytes]:
        kits = {f"setup_{version.replace('.', '_')}_linux_x86_64.deb": os.urandom(120_000)}
        draft = await self.call(
            "PUT",
            f"/v1/platform/releases/{version}",
            operator,
            json={
                "release_date": "2026-11-18",
                "its_issue": "ITS 2026/11",
                "grade": grade,
                "differences": "Faster reports.",
                "migration_notes": "Convert the infobase after the update.",
                "fixed_bugs": [{"id": "10140211", "title": "A report hung on large tables"}],
                "readme": "Read me first.",
                "kits": [
                    {
                        "name": name,
                        "kind": "platform",
                        "os": "linux",
                        "arch": "x86_64",
                        "size": len(content),
                        "sha256": hashlib.sha256(content).hexdigest(),
                    }
                    for name, content in kits.items()
                ],
            },
        )
        assert draft.status in (200, 201), draft.body
        await self.upload_and_publish(operator, str(draft.body["id"]), kits)
        return kits

    async def form(
        self, operator: str, configuration: str, code: str, version: str, content: bytes, *, publish: bool = True
    ) -> str:
        """A reporting form's version (DAT-2) for `configuration`, its file uploaded and (unless told) published; its
        id."""
        draft = await self.call(
            "PUT",
            f"/v1/forms/{code}/versions/{version}",
            operator,
            json={
                "name": "VAT return",
                "applies_from": "2027-01-01",
                "configurations": [configuration],
                "basis": {"number": "ED-7-3/1093@", "date": "2026-10-05"},
                "changes": "Section 3.1 for tax agents.",
                "file": {
                    "name": f"VAT_{code}_{version}.zip",
                    "size": len(content),
                    "sha256": hashlib.sha256(content).hexdigest(),
                },
            },
        )
        assert draft.status == 201, draft.body
        form_id = str(draft.body["id"])
        if publish:
            await self.upload_form_and_publish(operator, form_id, content)
        return form_id

    async def upload_form_and_publish(self, operator: str, form_id: str, content: bytes) -> None:
        uploaded = await self.call(
            "PUT",
            f"/v1/form-versions/{form_id}/file",
            operator,
            data=content,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert uploaded.status == 201, uploaded.body
        published = await self.call("POST", f"/v1/form-versions/{form_id}/publish", operator)
        assert published.status == 200, published.body

    async def rates(self, operator: str, csv: bytes) -> None:
        """Exchange rates imported by an operator (DAT-1) from a CSV of `date,currency,nominal,value` lines. Rates are
        the whole system's: each test uses currencies of its own."""
        imported = await self.call(
            "POST", "/v1/rates/imports?source=e2e.csv", operator, data=csv, headers={"Content-Type": "text/csv"}
        )
        assert imported.status == 200, imported.body

    async def upload_and_publish(self, operator: str, release_id: str, kits: dict[str, bytes]) -> None:
        for name, content in kits.items():
            uploaded = await self.call(
                "PUT",
                f"/v1/releases/{release_id}/kits/{name}/content",
                operator,
                data=io.BytesIO(content),  # streamed: megabytes as one bytes body would hold the event loop
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(content))},
            )
            assert uploaded.status in (200, 201), uploaded.body
        published = await self.call("POST", f"/v1/releases/{release_id}/publish", operator)
        assert published.status == 200, published.body

    async def visible(self, customer: Customer, configuration: str) -> dict[str, Any]:
        """The release list, once updates has learnt the registration from registration's events."""

        async def listed() -> dict[str, Any] | None:
            reply = await self.call("GET", f"/v1/configurations/{configuration}/releases", customer.token)
            return reply.body if reply.status == 200 else None

        found: dict[str, Any] = await wait_for(listed, timeout=15, interval=0.2, what="updates to learn the product")
        return found

    async def plan(self, token: str, **body: Any) -> Reply:
        return await self.call("POST", "/v1/update-plan", token, json=body)

    async def curl(self, url: str, out: Path, *extra: str) -> int:
        process = await asyncio.create_subprocess_exec(
            "curl", "--silent", "--show-error", "--fail", "--location", "-o", str(out), *extra, url
        )
        return await process.wait()


@pytest.fixture
async def updates(flow: Contracts, services: dict[str, ServiceProcess], tmp_path: Path) -> Updates:
    return Updates(flow, services["updates"].url, tmp_path)


async def owner_with(
    updates: Updates,
    operator: str,
    *,
    edition: str,
    purchase_date: date | None = None,
    verified_through: Path | None = None,
) -> tuple[Customer, str, str]:
    """A new configuration, a product of `edition` including it, and a customer it is authorised for (REG-5);
    with `verified_through` (the mail directory) the customer's e-mail is verified (owners invite only then)."""
    flow = updates.flow
    partner = await flow.partner(operator)
    configuration, [issued] = await flow.product(operator, edition=edition)
    customer = await flow.portal.customer(verified_through=verified_through)
    flow.customers.append(customer)
    await flow.authorise(partner, issued.number, customer, purchase_date or flow_today())
    return customer, configuration, issued.number


def flow_today() -> date:
    """A purchase date in the past on every clock the tests set (a purchase date after "today" is refused)."""
    return moscow_today() - timedelta(days=1)


def moscow_today() -> date:
    return datetime.now(MOSCOW).date()


# ---- UPD-1, UPD-3, UPD-6 -----------------------------------------------------------------------


async def test_upd1_upd3_release_pages_for_registered_subscribers_and_an_offer_for_others(updates: Updates) -> None:
    """Also: publishing e-mails the owners registered for the configuration, and nobody else."""
    operator = await updates.flow.portal.operator()
    owner, configuration, _ = await owner_with(updates, operator, edition="BASIC")
    stranger = await updates.flow.customer("Stranger Things")
    await updates.release(operator, configuration, "3.0.40.10", [])
    await updates.release(operator, configuration, "3.0.41.20", ["3.0.40.10"])

    listed = await updates.visible(owner, configuration)
    assert [r["version"] for r in listed["items"]] == ["3.0.41.20", "3.0.40.10"]  # newest first

    page = await updates.call("GET", f"/v1/configurations/{configuration}/releases/3.0.41.20", owner.token)
    assert page.status == 200, page.body
    for section in ("release_date", "its_issue", "whats_new", "changes", "major_changes", "update_procedure"):
        assert page.body[section], section
    assert page.body["min_platform"] == "8.3.24.1342" and page.body["updates_from"] == ["3.0.40.10"]
    assert "<strong>3.0.41.20</strong>" in page.body["whats_new_html"]
    assert {k["kind"] for k in page.body["kits"]} == {"update", "full"}

    # UPD-3 / REG-6: another subscriber sees no page of it, and is told which products include it.
    for path in ("/releases", "/releases/3.0.41.20", "/articles"):
        refused = await updates.call("GET", f"/v1/configurations/{configuration}{path}", stranger.token)
        assert refused.status == 403 and problem_type(refused.body) == PROBLEMS + "configuration-not-registered"
        assert refused.body["offer"]["products"], refused.body
    # Nor a plan, nor a kit.
    plan = await updates.plan(
        stranger.token, configuration=configuration, version="3.0.40.10", platform_version="8.3.24.1342"
    )
    assert plan.status == 403
    kit_id = page.body["kits"][0]["id"]
    assert (await updates.call("GET", f"/v1/kits/{kit_id}/download", stranger.token)).status == 403

    # notifications e-mailed the owner about each release, with a one-click unsubscribe (RFC 8058).
    letters = await updates.flow.mail(owner.email, "3.0.41.20 is released")
    assert "List-Unsubscribe-Post" in letters[0] and "3.0.41.20" in body_text(letters[0])
    assert not [m for m in read_mail(updates.flow.mail_dir, stranger.email) if "released" in str(m["Subject"])]


async def test_upd6_known_problems_and_administration_articles(updates: Updates) -> None:
    operator = await updates.flow.portal.operator()
    owner, configuration, _ = await owner_with(updates, operator, edition="BASIC")
    slug = unique("vat-").lower()
    put = await updates.call(
        "PUT",
        f"/v1/articles/{slug}",
        operator,
        json={
            "configuration": configuration,
            "kind": "known_problem",
            "title": "VAT return rounds kopecks",
            "body": "Fixed in **3.0.42**. <script>alert(1)</script>",
            "versions": ["3.0.41.20"],
        },
    )
    assert put.status in (200, 201), put.body
    await updates.visible(owner, configuration)
    articles = await updates.call("GET", f"/v1/configurations/{configuration}/articles", owner.token)
    assert articles.status == 200, articles.body
    [article] = [a for a in articles.body["items"] if a["slug"] == slug]
    assert "<strong>3.0.42</strong>" in article["body_html"] and "<script>" not in article["body_html"]


# ---- UPD-2 --------------------------------------------------------------------------------------


async def test_upd2_platform_release_pages_and_kits(updates: Updates) -> None:
    operator = await updates.flow.portal.operator()
    owner, configuration, _ = await owner_with(updates, operator, edition="BASIC")
    version = f"8.3.{secrets_part()}.1500"
    kits = await updates.platform_release(operator, version)
    await updates.visible(owner, configuration)
    page = await updates.call("GET", f"/v1/platform/releases/{version}", owner.token)
    assert page.status == 200, page.body
    assert page.body["grade"] == "recommended" and page.body["fixed_bugs"][0]["id"] == "10140211"
    assert page.body["readme"] and page.body["differences_html"]
    [kit] = page.body["kits"]
    link = await updates.call("GET", f"/v1/kits/{kit['id']}/download", owner.token, headers={"Prefer": "no-redirect"})
    assert link.status == 200, link.body
    out = updates.tmp / kit["name"]
    assert await updates.curl(link.body["url"], out) == 0
    assert out.read_bytes() == kits[kit["name"]]


def secrets_part() -> int:
    return 100 + uuid.uuid4().int % 800


# ---- UPD-4 with ITS-7 and SUB-5 -------------------------------------------------------------------


async def test_upd4_downloads_need_registration_coverage_and_the_right(updates: Updates, mail_dir: Path) -> None:
    operator = await updates.flow.portal.operator()
    flow = updates.flow
    # PROF bought long ago: the free period is over and no contract covers this month.
    owner, configuration, number = await owner_with(
        updates, operator, edition="PROF", purchase_date=LONG_AGO, verified_through=mail_dir
    )
    kits = await updates.release(operator, configuration, "3.0.40.10", [])
    listed = await updates.visible(owner, configuration)
    assert listed["items"]
    page = await updates.call("GET", f"/v1/configurations/{configuration}/releases/3.0.40.10", owner.token)
    kit = next(k for k in page.body["kits"] if k["kind"] == "update")

    refused = await updates.call("GET", f"/v1/kits/{kit['id']}/download", owner.token)
    assert refused.status == 402 and problem_type(refused.body) == PROBLEMS + "its-contract-required"
    assert refused.body["offer"]["kind"] == "its-subscription"
    assert refused.body["offer"]["registration_numbers"] == [number]

    # A user the owner invited without "access to the ITS information system" (SUB-5).
    user = await flow.portal.invited_user(owner, mail_dir)
    no_right = await updates.call("GET", f"/v1/kits/{kit['id']}/download", user.token)
    assert no_right.status == 403 and problem_type(no_right.body) == PROBLEMS + "its-access-right-missing"

    # A partner's contract covering this month, processed on the next business day (ITS-2), opens the download.
    partner = await flow.partner(operator)
    # This month and the next: the next business day may fall in either.
    today = moscow_today()
    this_month, next_month = today.strftime("%Y-%m"), (today.replace(day=28) + timedelta(days=5)).strftime("%Y-%m")
    posted = await flow.post_contract(partner, contract_body(number, (this_month, next_month)))
    processing_on = date.fromisoformat(posted.body["processing_on"])
    async with flow.clock_at(moscow(f"{processing_on.isoformat()} 09:00")):
        await flow.wait_state(partner, str(posted.body["id"]), "active")
        token = await flow.portal.login(owner.login)

        async def allowed() -> Reply | None:
            reply = await updates.call("GET", f"/v1/kits/{kit['id']}/download", token, allow_redirects=False)
            return reply if reply.status == 303 else None

        redirect: Reply = await wait_for(allowed, timeout=15, interval=0.2, what="updates to learn the contract")
        location = redirect.headers["Location"]
        out = updates.tmp / kit["name"]
        assert await updates.curl(location, out) == 0
        assert hashlib.sha256(out.read_bytes()).hexdigest() == kit["sha256"]
        assert out.read_bytes() == kits[kit["name"]]

        # A tampered link (another subscriber's id in it) is refused.
        tampered = location.replace("sub=", f"sub={uuid.uuid4()}&x=")
        assert await updates.curl(tampered, updates.tmp / "tampered") != 0


async def test_upd4_basic_needs_no_contract(updates: Updates) -> None:
    operator = await updates.flow.portal.operator()
    owner, configuration, _ = await owner_with(updates, operator, edition="BASIC", purchase_date=LONG_AGO)
    kits = await updates.release(operator, configuration, "3.0.40.10", [])
    await updates.visible(owner, configuration)
    page = await updates.call("GET", f"/v1/configurations/{configuration}/releases/3.0.40.10", owner.token)
    assert page.body["entitlement"]["allowed"] is True
    for kit in page.body["kits"]:
        out = updates.tmp / kit["name"]
        assert (
            await updates.curl(
                f"{updates.url}/v1/kits/{kit['id']}/download", out, "-H", f"Authorization: Bearer {owner.token}"
            )
            == 0
        )
        assert out.read_bytes() == kits[kit["name"]]


# ---- UPD-5 --------------------------------------------------------------------------------------------


async def test_upd5_a_client_program_gets_the_shortest_chain_and_downloads_it_with_resume(updates: Updates) -> None:
    operator = await updates.flow.portal.operator()
    owner, configuration, _ = await owner_with(updates, operator, edition="CORP")  # in its free period (ITS-7)
    # Two routes from 3.0.40.10 to 3.0.43.1: three steps through 3.0.41.20, or two through the 3.0.42.5 shortcut.
    await updates.release(operator, configuration, "3.0.40.10", [])
    await updates.release(operator, configuration, "3.0.41.20", ["3.0.40.10"])
    shortcut = await updates.release(
        operator, configuration, "3.0.42.5", ["3.0.40.10", "3.0.41.20"], min_platform="8.3.25.1000"
    )
    await updates.release(operator, configuration, "3.0.43.1", ["3.0.42.5"])
    await updates.release(operator, configuration, "3.1.0.1", ["3.0.43.1"], prerelease=True)
    await updates.visible(owner, configuration)

    # The client program logs in with the password grant (ACC-3), as the owner's program would.
    token = await updates.flow.portal.login(owner.login)
    plan = await updates.plan(token, configuration=configuration, version="3.0.40.10", platform_version="8.3.24.1342")
    assert plan.status == 200, plan.body
    assert [(s["from_version"], s["version"]) for s in plan.body["steps"]] == [
        ("3.0.40.10", "3.0.42.5"),
        ("3.0.42.5", "3.0.43.1"),
    ]
    assert plan.body["target"] == "3.0.43.1"  # the prerelease only when asked
    assert plan.body["platform"]["required"] == "8.3.25.1000" and plan.body["platform"]["update_needed"] is True
    assert plan.body["download"]["allowed"] is True and plan.body["support_end"]
    assert plan.body["total_size"] > 0
    assert UpdatePlan.model_validate(plan.body).model_dump(mode="json") == plan.body  # exactly the documented shape

    # Download the first step's update package with curl, broken off half-way and resumed (`-C -`).
    step = plan.body["steps"][0]
    kit = next(k for k in step["kits"] if k["kind"] == "update")
    content = shortcut[kit["name"]]
    out = updates.tmp / kit["name"]
    out.write_bytes(content[: len(content) // 2])
    assert await updates.curl(kit["url"], out, "-C", "-") == 0
    assert hashlib.sha256(out.read_bytes()).hexdigest() == kit["sha256"] == hashlib.sha256(content).hexdigest()

    prerelease = await updates.plan(
        token, configuration=configuration, version="3.0.43.1", platform_version="8.3.25.1000", allow_prerelease=True
    )
    assert prerelease.status == 200 and [s["version"] for s in prerelease.body["steps"]] == ["3.1.0.1"]
    current = await updates.plan(token, configuration=configuration, version="3.0.43.1", platform_version="8.3.25.1000")
    assert current.status == 200 and current.body["up_to_date"] is True and current.body["steps"] == []

    # No chain: say what can be reached.
    stuck = await updates.plan(token, configuration=configuration, version="2.9.0.1", platform_version="8.3.25.1000")
    assert stuck.status == 422 and problem_type(stuck.body) == PROBLEMS + "no-update-chain"
    assert stuck.body["reachable"] == []
    # Versions that don't parse: 422 naming the field.
    for field, value in (("version", "3.0.x"), ("platform_version", "../../etc"), ("target", "3..0")):
        body = {"configuration": configuration, "version": "3.0.40.10", "platform_version": "8.3.24.1342", field: value}
        bad = await updates.plan(token, **body)
        assert bad.status == 422 and field in {e["field"] for e in bad.body["errors"]}, bad.body
