"""its-client's data services against the real services (DAT-1, DAT-2 with UPD-4): a program logged in with the
password grant receives the reporting forms newer than the ones it holds, each file downloaded and checked, and the
exchange rates since the last day it has; a subscriber that ITS does not cover is refused with the offer.

Every test makes its own configuration, products, accounts, forms and rates.
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from its_client import NotCovered

from tests.drawn import form_code
from tests.e2e.client_flows import client_for, files_under
from tests.e2e.contracts_flows import contracts_db, flow, registration_db
from tests.e2e.flows import PASSWORD
from tests.e2e.test_client_command import Command, Gateway, gateway
from tests.e2e.test_updates_flow import LONG_AGO, Updates, moscow_today, owner_with, updates
from tests.infra import ServiceProcess

__all__ = ["contracts_db", "flow", "gateway", "registration_db", "updates"]  # fixtures


async def test_dat2_the_program_receives_the_forms_newer_than_it_holds_each_file_checked(
    updates: Updates, services: dict[str, ServiceProcess], tmp_path: Path
) -> None:
    operator = await updates.flow.portal.operator()
    owner, configuration, _ = await owner_with(updates, operator, edition="CORP")  # in its free period (ITS-7)
    await updates.visible(owner, configuration)
    held, new = form_code(), form_code()
    older, newer, other = os.urandom(50_000), os.urandom(60_000), os.urandom(1_000)
    await updates.form(operator, configuration, held, "5.01", older)
    await updates.form(operator, configuration, held, "5.02", newer)
    await updates.form(operator, configuration, new, "1.0", other)
    to = tmp_path / "forms"

    async with client_for(services, tmp_path / "config") as client:
        await client.login(owner.login, PASSWORD)
        found = await client.form_updates(configuration, {held: "5.01"})
        assert [(f.code, f.version, f.kit.size) for f in found.forms] == sorted(
            [(held, "5.02", len(newer)), (new, "1.0", len(other))]
        )
        fetched = await client.receive_forms(configuration, {held: "5.01"}, to)
        assert {f.target: "plan" in f.verified_by for f in fetched} == {
            f"{held}/5.02/VAT_{held}_5.02.zip": True,
            f"{new}/1.0/VAT_{new}_1.0.zip": True,
        }
        again = await client.receive_forms(configuration, {held: "5.01"}, to)  # the files are there: kept
        assert all(f.already_there for f in again)
        assert (await client.form_updates(configuration, {held: "5.02", new: "1.0"})).forms == []
    assert files_under(to) == {f"{held}/5.02/VAT_{held}_5.02.zip": newer, f"{new}/1.0/VAT_{new}_1.0.zip": other}


async def test_dat2_a_subscriber_not_covered_is_refused_with_the_offer_before_any_download(
    updates: Updates, services: dict[str, ServiceProcess], tmp_path: Path
) -> None:
    operator = await updates.flow.portal.operator()
    owner, configuration, number = await owner_with(updates, operator, edition="PROF", purchase_date=LONG_AGO)
    await updates.visible(owner, configuration)
    await updates.form(operator, configuration, form_code(), "5.01", os.urandom(1_000))
    to = tmp_path / "forms"

    async with client_for(services, tmp_path / "config") as client:
        await client.login(owner.login, PASSWORD)
        with pytest.raises(NotCovered) as refused:
            await client.receive_forms(configuration, {}, to)
    offer = refused.value.offer
    assert refused.value.status == 402 and offer is not None and offer.kind == "its-subscription"
    assert (offer.month, offer.registration_numbers) == (moscow_today().strftime("%Y-%m"), [number])
    assert not to.exists()


async def test_dat1_the_program_receives_every_day_since_its_last_and_is_told_when_nothing_changed(
    updates: Updates, services: dict[str, ServiceProcess], tmp_path: Path
) -> None:
    operator = await updates.flow.portal.operator()
    await updates.rates(
        operator, b"date,currency,nominal,value\n2021-04-30,NOK,10,89.5930\n2021-05-05,NOK,10,90.1234\n"
    )
    owner, configuration, _ = await owner_with(updates, operator, edition="CORP")  # in its free period (ITS-7)
    await updates.visible(owner, configuration)

    async with client_for(services, tmp_path / "config") as client:
        await client.login(owner.login, PASSWORD)
        rates = await client.rates(["NOK"], since=date(2021, 4, 29), end=date(2021, 5, 5))
        assert rates is not None and rates.names["NOK"]
        assert [(r.day, r.nominal, r.value) for r in rates.rows] == [
            (date(2021, 4, 30), 10, Decimal("89.5930")),
            *[(date(2021, 5, d), 10, Decimal("89.5930")) for d in (1, 2, 3, 4)],  # the May holidays carry it
            (date(2021, 5, 5), 10, Decimal("90.1234")),
        ]
        assert rates.rows[-1].per_unit == Decimal("9.01234")
        unchanged = await client.rates(["NOK"], since=date(2021, 4, 29), end=date(2021, 5, 5), etag=rates.etag)
        assert unchanged is None  # 304: the program keeps what it has


async def test_dat1_dat2_the_command_prints_the_rates_and_receives_the_forms_through_the_gateway(
    gateway: Gateway, updates: Updates, tmp_path: Path
) -> None:
    operator = await updates.flow.portal.operator()
    await updates.rates(
        operator, b"date,currency,nominal,value\n2019-06-14,HUF,100,22.1010\n2019-06-17,HUF,100,22.2020\n"
    )
    owner, configuration, _ = await owner_with(updates, operator, edition="CORP")  # in its free period (ITS-7)
    await updates.visible(owner, configuration)
    code, content = form_code(), os.urandom(10_000)
    await updates.form(operator, configuration, code, "5.01", content)
    its_client = Command(gateway, tmp_path / "config", [])
    await its_client.json("login", "--username", owner.login, "--password", PASSWORD)

    rates = await its_client("rates", "HUF", "--from", "2019-06-14", "--to", "2019-06-17")
    assert rates.returncode == 0, rates.stderr
    assert "  2019-06-15  100 HUF = 22.1010 RUB  (1 HUF = 0.2210 RUB)" in rates.stdout  # Saturday carries Friday's
    as_csv = await its_client("rates", "HUF", "--since", "2019-06-15", "--to", "2019-06-17", "--csv")
    assert as_csv.stdout.splitlines() == [
        "date,currency,nominal,value",
        "2019-06-16,HUF,100,22.1010",
        "2019-06-17,HUF,100,22.2020",
    ]
    wrong = await its_client("rates", "HUF", "--from", "1990-12-31")
    assert wrong.returncode == 2 and "from 1991-01-01" in wrong.stderr
    listed = await its_client("forms", "-c", configuration)
    assert listed.returncode == 0 and f"{code} 5.01  VAT return" in listed.stdout
    received = await its_client("forms", "-c", configuration, "--held", f"{code}=5.0", "--to", str(tmp_path / "f"))
    assert received.returncode == 0, received.stderr
    assert files_under(tmp_path / "f") == {f"{code}/5.01/VAT_{code}_5.01.zip": content}
