"""its-client, the library installed programs use, against the real services (ACC-3, MON-1, UPD-4, UPD-5, SUP-1):
identity, registration, contracts, updates and support as processes, the events through RabbitMQ. Nothing of ours is
mocked: the client logs in with the password grant, keeps the rotating refresh token in its 0600 file, reads the support
status, plans and downloads an update (interrupted, then resumed), is refused with the offer when not covered, asks
the consulting line with files attached, and logs out.

Every test makes its own configuration, products, accounts and releases.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from its_client import Kit, KitCorrupt, NotAuthenticated, NotCovered, UpdateNotTrusted, UpdatePlan

from services.support.app import SCHEMA as SUPPORT_SCHEMA
from shared.db import Pool, close_pool, create_pool
from tests.e2e.client_flows import MB, client_for, files_under
from tests.e2e.contracts_flows import Contracts, contracts_db, flow, registration_db
from tests.e2e.flows import PASSWORD, SignedMetadata, clock_moved, signed_metadata
from tests.e2e.test_updates_flow import LONG_AGO, Updates, moscow_today, owner_with
from tests.infra import ServiceProcess, TestStack, wait_for

__all__ = ["contracts_db", "flow", "registration_db", "signed_metadata"]  # fixtures


@pytest.fixture
async def updates(flow: Contracts, services: dict[str, ServiceProcess], tmp_path: Path) -> Updates:
    return Updates(flow, services["updates"].url, tmp_path)


def stored_token(config_dir: Path) -> str:
    """The one login file's refresh token (the test reads it; the client never prints it)."""
    [path] = [p for p in config_dir.iterdir() if p.suffix == ".json"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return str(json.loads(path.read_text())["refresh_token"])


class Interrupted(Exception):
    """The program stopped mid-download (the user quit, the machine slept)."""


async def test_acc3_mon1_upd5_a_program_logs_in_checks_its_support_plans_and_updates_resuming(
    updates: Updates, services: dict[str, ServiceProcess], signed_metadata: SignedMetadata, tmp_path: Path
) -> None:
    operator = await updates.flow.portal.operator()
    owner, configuration, number = await owner_with(updates, operator, edition="CORP")  # in its free period (ITS-7)
    kits = await updates.release(operator, configuration, "3.0.40.10", [])
    kits |= await updates.release(operator, configuration, "3.0.41.20", ["3.0.40.10"], update_size=3 * MB)
    kits |= await updates.release(
        operator, configuration, "3.0.42.5", ["3.0.41.20"], min_platform="8.3.25.1000", update_size=MB
    )
    # The newest platform release of the shared database, so the plan recommends ours: other tests' (up to 8.3.10⁹.x,
    # tests/integration/test_portal_operator.py) keep their kits in storage of their own, not this stack's.
    platform_version = f"8.3.999999999.{uuid.uuid4().int % 10**9}"
    platform_kits = await updates.platform_release(operator, platform_version)
    await updates.visible(owner, configuration)
    config_dir, to = tmp_path / "config", tmp_path / "updates"

    # ACC-3: the program logs in with the login and password and shows the account's name; the login is kept.
    async with client_for(services, config_dir, signed_metadata.shipped_root) as client:
        account = await client.login(owner.login, PASSWORD)
        assert account.name == owner.full_name == "Ivan Petrov" and account.login == owner.login
        first = stored_token(config_dir)
        [product] = await client.products()  # the number and the configuration to ask about
        assert (product.registration_number, product.configurations, product.state) == (
            number,
            [configuration],
            "active",
        )

        # MON-1: exactly what contracts answers, typed.
        status = await client.support_status(number, configuration)
        assert status.raw == await updates.flow.support_status(owner, number, configuration)
        assert (status.registration, status.its_contract, status.its_covered_by) == ("REGISTERED", "OK", "free_period")
        assert status.its_until is not None and status.its_until > moscow_today()

    # The next run of the program: no access token in memory, so the kept refresh token is used, and rotated.
    async with client_for(services, config_dir, signed_metadata.shipped_root) as client:
        # Each replica renews its catalogue on a notification, moments after a publish: until then the plan may
        # recommend an older platform release (another test's, whose kits this stack does not store).
        async def recommends_ours() -> UpdatePlan | None:
            plan = await client.plan(configuration, "3.0.40.10", "8.3.24.1342", os="linux", arch="x86_64")
            return plan if plan.platform.release == platform_version else None

        plan = await wait_for(recommends_ours, timeout=15, interval=0.2, what="the plan to recommend the new platform")
        second = stored_token(config_dir)
        assert second != first

        # UPD-5, typed: the chain, the platform it needs, the links.
        assert [(s.from_version, s.version) for s in plan.steps] == [
            ("3.0.40.10", "3.0.41.20"),
            ("3.0.41.20", "3.0.42.5"),
        ]
        assert plan.platform.update_needed and plan.platform.required == "8.3.25.1000" and plan.platform.release
        assert plan.download.allowed and all(k.url for s in plan.steps for k in s.kits)
        big = next(k for k in plan.steps[0].kits if k.kind == "update")

        # Interrupted a third of the way into the 3 MB package: what came is kept in NAME.part, nothing in NAME.
        def quit_midway(kit: Kit, done: int, total: int | None) -> None:
            if kit.id == big.id and done >= MB:
                raise Interrupted

        with pytest.raises(Interrupted):
            await client.update(
                configuration, "3.0.40.10", "8.3.24.1342", to, os="linux", arch="x86_64", progress=quit_midway
            )
        step_dir = to / "configurations" / configuration / "3.0.41.20"
        part = step_dir / f"{big.name}.part"
        kept = part.stat().st_size
        assert MB <= kept < 3 * MB and not (step_dir / big.name).exists()

        # Run again: the platform's kit is there already, the package resumes where it stopped, all verified.
        result = await client.update(configuration, "3.0.40.10", "8.3.24.1342", to, os="linux", arch="x86_64")

    on_disk = files_under(to)
    plan = result.plan  # the plan the update followed
    release = plan.platform.release
    assert release == platform_version
    assert {t: c for t, c in on_disk.items() if t.startswith("configurations/")} == {
        f"configurations/{configuration}/3.0.41.20/{configuration}_3_0_41_20.cfu": kits[
            f"{configuration}_3_0_41_20.cfu"
        ],
        f"configurations/{configuration}/3.0.42.5/{configuration}_3_0_42_5.cfu": kits[f"{configuration}_3_0_42_5.cfu"],
    }  # the update packages only: the full kits are for new installations
    platform_files = {t: c for t, c in on_disk.items() if t.startswith("platform/")}
    assert set(platform_files) == {f"platform/{release}/{k.name}" for k in plan.platform.kits}
    for target, content in platform_files.items():
        name = target.rsplit("/", 1)[1]
        assert content == platform_kits[name]
    assert not any(t.endswith(".part") for t in on_disk)

    by_target = {k.target: k for k in result.kits}
    assert list(by_target) == [*platform_files, *sorted(t for t in on_disk if t.startswith("configurations/"))]
    resumed = by_target[f"configurations/{configuration}/3.0.41.20/{big.name}"]
    assert resumed.resumed_from == [kept] and not resumed.already_there
    assert set(resumed.verified_by) == {"plan", "ETag", "Repr-Digest", "link", "signed metadata"}
    assert all(by_target[t].already_there for t in platform_files)
    for fetched in result.kits:
        assert hashlib.sha256(fetched.path.read_bytes()).hexdigest() == fetched.sha256 == fetched.kit.sha256
    third = stored_token(config_dir)
    assert third == second  # one run, one refresh: the access token served the whole run

    # An access token that expired on the way (the services' clock 20 minutes on) is renewed once, transparently.
    async with client_for(services, config_dir, signed_metadata.shipped_root) as client:
        await client.refresh()
        fourth = stored_token(config_dir)
        async with clock_moved(updates.flow.stack, timedelta(minutes=20)):
            status = await client.support_status(number, configuration)
            assert status.registration == "REGISTERED"
            fifth = stored_token(config_dir)
            assert fifth != fourth

        # Logging out revokes the login at identity, and forgets it here.
        assert await client.logout() is True
        assert list(config_dir.glob("*.json")) == []
        with pytest.raises(NotAuthenticated, match="not logged in"):
            await client.support_status(number, configuration)
    identity = services["identity"].url
    refused = await updates.flow.portal.call(
        "POST", f"{identity}/oauth/token", data={"grant_type": "refresh_token", "refresh_token": fifth}
    )
    assert refused.status == 400 and refused.body["error"] == "invalid_grant"


async def test_an_update_installs_nothing_the_signed_metadata_does_not_vouch_for(
    updates: Updates,
    services: dict[str, ServiceProcess],
    signed_metadata: SignedMetadata,
    migrated: TestStack,
    tmp_path: Path,
) -> None:
    """A kit altered in storage (a compromised bucket or mirror) is refused and never put in place; a program that
    ships no root trusts no metadata; the root kept from the first update is trusted by the next ones."""
    operator = await updates.flow.portal.operator()
    owner, configuration, _ = await owner_with(updates, operator, edition="CORP")
    kits = await updates.release(operator, configuration, "3.0.40.10", [])
    kits |= await updates.release(operator, configuration, "3.0.41.20", ["3.0.40.10"])
    await updates.visible(owner, configuration)
    name = f"{configuration}_3_0_41_20.cfu"
    sha256 = hashlib.sha256(kits[name]).hexdigest()
    stored = migrated.var_dir / "kits" / sha256[:2] / sha256[2:4] / sha256
    versions = (configuration, "3.0.40.10", "8.3.24.1342")

    async with client_for(services, tmp_path / "rootless") as client:
        await client.login(owner.login, PASSWORD)
        with pytest.raises(UpdateNotTrusted) as no_root:
            await client.update(*versions, tmp_path / "rootless-updates")
        assert no_root.value.refusal == "no-root"
    assert files_under(tmp_path / "rootless-updates") == {}

    config_dir, to = tmp_path / "config", tmp_path / "updates"
    async with client_for(services, config_dir, signed_metadata.shipped_root) as client:
        await client.login(owner.login, PASSWORD)
        original = stored.read_bytes()
        try:
            stored.write_bytes(bytes([original[0] ^ 1]) + original[1:])
            with pytest.raises(KitCorrupt):
                await client.update(*versions, to)
        finally:
            stored.write_bytes(original)
        assert [path for path in files_under(to) if not path.endswith(".part")] == []  # nothing put in place
    async with client_for(services, config_dir) as client:  # a later run: the root kept from the first is trusted
        result = await client.update(*versions, to)
    [kit] = result.kits
    assert kit.target == f"configurations/{configuration}/3.0.41.20/{name}" and "signed metadata" in kit.verified_by
    assert files_under(to) == {kit.target: kits[name]}  # the refused bytes were not resumed from


async def test_upd4_a_subscriber_not_covered_is_refused_with_the_offer_before_any_download(
    updates: Updates, services: dict[str, ServiceProcess], tmp_path: Path
) -> None:
    operator = await updates.flow.portal.operator()
    owner, configuration, number = await owner_with(updates, operator, edition="PROF", purchase_date=LONG_AGO)
    await updates.release(operator, configuration, "3.0.40.10", [])
    await updates.release(operator, configuration, "3.0.41.20", ["3.0.40.10"])
    await updates.visible(owner, configuration)
    to = tmp_path / "updates"

    async with client_for(services, tmp_path / "config") as client:
        await client.login(owner.login, PASSWORD)
        status = await client.support_status(number, configuration)
        assert (status.its_contract, status.overall) == ("NO_CONTRACT", "NOT_COMPLIED")
        plan = await client.plan(configuration, "3.0.40.10", "8.3.24.1342")
        assert not plan.download.allowed and plan.download.reason == "its-contract-required"
        with pytest.raises(NotCovered) as refused:
            await client.update(configuration, "3.0.40.10", "8.3.24.1342", to)

    error = refused.value
    assert error.status == 402 and error.reason == "its-contract-required" and error.detail
    assert error.offer is not None and error.offer.kind == "its-subscription"
    assert error.offer.month == moscow_today().strftime("%Y-%m")  # the vendor's current month (UPD-4)
    assert error.offer.registration_numbers == [number]
    assert "ITS" in error.offer.how
    assert not to.exists()  # refused before anything was downloaded


@pytest.fixture(scope="module")
async def support_db(migrated: TestStack) -> AsyncIterator[Pool]:
    pool = await create_pool(migrated.database_url, SUPPORT_SCHEMA, min_size=1, max_size=2)
    yield pool
    await close_pool(pool)


async def test_sup1_the_program_asks_with_its_context_and_the_files_arrive_at_support(
    updates: Updates, services: dict[str, ServiceProcess], support_db: Pool, tmp_path: Path
) -> None:
    operator = await updates.flow.portal.operator()
    owner, configuration, number = await owner_with(updates, operator, edition="CORP")  # free period: no partner
    await wait_for(
        lambda: support_db.fetchval("SELECT 1 FROM registered_products WHERE registration_number = $1", number),
        timeout=15,
        what="support to learn the product from registration's events",
    )
    screenshot = tmp_path / "Ошибка при проведении.png"  # a name support would refuse: sent under a plain one
    screenshot.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300_000))
    log = tmp_path / "its.log"
    log.write_text("2026-12-07 09:00 ERROR posting: the date is not in the contract's term\n" * 200)

    async with client_for(services, tmp_path / "config") as client:
        await client.login(owner.login, PASSWORD)
        question = await client.ask(
            "Не проводится поступление товаров",
            "При проведении документа появляется окно: **неверная дата**.",
            registration_number=number,
            configuration=configuration,
            version="3.0.40.10",
            platform_version="8.3.24.1342",
            attachments=[screenshot, log],
        )

    assert question.state == "new" and question.routed_to.kind == "vendor"
    assert (question.registration_number, question.configuration, question.version, question.platform_version) == (
        number,
        configuration,
        "3.0.40.10",
        "8.3.24.1342",
    )
    assert question.first_response_due is not None
    assert [(a.name, a.content_type) for a in question.attachments] == [
        ("attachment.png", "image/png"),
        ("its.log", "text/plain"),
    ]
    # At support: the thread, with the context and the very bytes.
    support = services["support"].url
    thread = await updates.flow.portal.call("GET", f"{support}/v1/questions/{question.id}", owner.token)
    assert thread.status == 200, thread.body
    assert (thread.body["configuration"], thread.body["version"]) == (configuration, "3.0.40.10")
    stored = {a["name"]: a for a in thread.body["attachments"]}
    for name, path in (("attachment.png", screenshot), ("its.log", log)):
        assert stored[name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert stored[name]["size"] == path.stat().st_size
    headers = {"Authorization": f"Bearer {owner.token}"}
    async with updates.flow.portal.http.get(
        f"{support}/v1/questions/{question.id}/attachments/its.log", headers=headers
    ) as response:
        assert response.status == 200 and await response.read() == log.read_bytes()
