"""The operator cabinet's regulated reporting forms (DAT-2) against in-process identity, registration and updates
apps, real PostgreSQL and RabbitMQ: the list of form versions, filtered; a new version with its file (size and
sha256 computed by the portal) saved as a draft; updates' refusals next to the fields, everything typed kept but the
file; publishing and withdrawing only after a confirmation page, in English and Russian."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.portal.app import PortalSettings, create_app
from tests.drawn import form_code
from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import identity
from tests.integration.test_portal_operator import (
    Operator,
    catalogued,
    notifications,
    operator,
    post_multipart,
    registration,
    updates,
)
from tests.integration.test_portal_pages import Browser, labelled, portal_schema, registered

__all__ = ["identity", "notifications", "operator", "portal_schema", "registration", "updates"]  # fixtures


@pytest.fixture(scope="module")
async def portal(
    portal_schema: TestStack, identity: RunningApp, registration: RunningApp, updates: RunningApp
) -> AsyncIterator[RunningApp]:
    settings = PortalSettings(
        identity_url=identity.url,
        registration_url=registration.url,
        updates_url=updates.url,
        trusted_proxies=["127.0.0.1"],
    )
    async with RunningApp(create_app(settings)) as running:
        yield running


@pytest.fixture
async def browser(portal: RunningApp, operator: Operator) -> AsyncIterator[Browser]:
    browser = Browser(portal.url)
    page = await browser.log_in(operator.login, operator.password)
    assert page.status == 303, page.text
    yield browser
    await browser.close()


def fields(code: str, version: str, configurations: list[str], **changed: str) -> list[tuple[str, str]]:
    typed = {
        "code": code,
        "version": version,
        "name": "VAT return",
        "applies_from": "2027-01-01",
        "basis_number": "ED-7-3/1093@",
        "basis_date": "2026-10-05",
        "changes": "Lines for **agents**.",
    } | changed
    return [*typed.items(), *(("configurations", c) for c in configurations)]


async def forms_at_updates(updates: RunningApp, operator: Operator, code: str) -> list[dict[str, Any]]:
    async with updates.http.get(f"/v1/forms?code={code}", headers=operator.headers) as response:
        assert response.status == 200, await response.text()
        items: list[dict[str, Any]] = (await response.json())["items"]
        return items


def rows(text: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(r'<th scope="row">(.*?)</th>', text, re.S)]


async def test_dat2_an_operator_adds_a_form_version_with_its_file_publishes_and_withdraws_it(
    browser: Browser, registration: RunningApp, updates: RunningApp, operator: Operator
) -> None:
    configuration = await catalogued(registration, updates, operator)
    code = form_code()
    content = b"PK\x03\x04 the form's package " * 100

    new = await browser.get("/operator/forms/new")
    assert new.status == 200 and labelled(new) and 'enctype="multipart/form-data"' in new.text
    assert f'value="{configuration}"' in new.text  # the catalogue's configurations to tick

    # Nothing but the file missing: the form again, as typed.
    no_file = await post_multipart(browser, "/operator/forms", fields(code, "5.01", [configuration]))
    assert no_file.status == 422 and no_file.error_of("file") == "Choose the form's file."
    assert 'value="VAT return"' in no_file.text and f'value="{configuration}" checked' in no_file.text

    # updates refuses the version: said next to it, the rest kept, the file asked for again.
    bad = await post_multipart(browser, "/operator/forms", fields(code, "5.x", [configuration]), ("form.zip", content))
    assert bad.status == 422 and bad.error_of("version") == "A version is numbers separated by dots, e.g. 3.0.41.20."
    assert bad.error_of("file") == "The rest of the form is kept; choose the file again, browsers do not keep it."
    assert 'value="ED-7-3/1093@"' in bad.text and "Lines for **agents**." in bad.text and 'value="5.x"' in bad.text
    assert "value_error" not in bad.text and "Value error" not in bad.text  # no service texts
    unknown = await post_multipart(
        browser, "/operator/forms", fields(code, "5.01", ["NoSuchConfiguration"]), ("form.zip", content)
    )
    assert unknown.status == 422 and unknown.error_of("configurations") == "Not in the catalogue.", unknown.text
    assert await forms_at_updates(updates, operator, code) == []

    saved = await post_multipart(
        browser, "/operator/forms", fields(code, "5.01", [configuration]), ("form.zip", content)
    )
    assert saved.status == 303, saved.text
    [form] = await forms_at_updates(updates, operator, code)
    assert form["state"] == "draft" and form["configurations"] == [configuration]
    assert form["file"] == {
        "name": "form.zip",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "uploaded": True,
        "upload": f"/v1/form-versions/{form['id']}/file",
    }
    listed = await browser.get(saved.location)
    assert listed.status == 200 and labelled(listed)
    assert '<p class="notice" role="status">The draft is saved and its file uploaded.</p>' in listed.text
    assert rows(listed.text) == [f"Form {code}, version 5.01"] or f"Form {code}, version 5.01" in rows(listed.text)
    assert form["id"] not in listed.text  # no internal ids shown
    filtered = await browser.get(f"/operator/forms?q={code}&state=draft&configuration={configuration}")
    assert rows(filtered.text) == [f"Form {code}, version 5.01"] and "1 January 2027" in filtered.text
    assert rows((await browser.get(f"/operator/forms?q={code}&state=published")).text) == []
    bad_search = await browser.get("/operator/forms?q=%3Cscript%3E")
    assert bad_search.status == 422 and "<script>" not in bad_search.text and bad_search.error_of("q")

    # The same numbers spelt otherwise: said next to the version.
    other = await post_multipart(
        browser, "/operator/forms", fields(code, "05.01", [configuration]), ("form.zip", content)
    )
    assert other.status == 409 and "written as 5.01" in (other.error_of("version") or ""), other.text

    # Publishing: a confirmation page first.
    path = f"/operator/forms/{code}/5.01"
    confirm = await browser.get(f"{path}/publish")
    assert confirm.status == 200 and labelled(confirm) and f"Publish form {code}, version 5.01?" in confirm.text
    assert "<dd data-authored>ED-7-3/1093@</dd>" in confirm.text and "5 October 2026" in confirm.text
    unconfirmed = await browser.post(f"{path}/publish", {})
    assert (
        unconfirmed.status == 422
        and unconfirmed.form_error == "Nothing was done: confirm with the button on this page."
    )
    assert (await forms_at_updates(updates, operator, code))[0]["state"] == "draft"
    published = await browser.post(f"{path}/publish", {"confirm": "yes"})
    assert published.status == 303, published.text
    assert (await forms_at_updates(updates, operator, code))[0]["state"] == "published"
    told = await browser.get(published.location)
    assert '<p class="notice" role="status">The form version is published.</p>' in told.text
    assert f'href="{path}/withdraw"' in told.text

    # A published version is not written again.
    frozen = await post_multipart(
        browser, "/operator/forms", fields(code, "5.01", [configuration]), ("form.zip", content)
    )
    assert frozen.status == 409 and "never changes" in (frozen.error_of("version") or "")

    # Withdrawing: a reason and a confirmation.
    confirm = await browser.get(f"{path}/withdraw")
    assert confirm.status == 200 and labelled(confirm) and "Client programs are no longer sent it" in confirm.text
    no_reason = await browser.post(f"{path}/withdraw", {"confirm": "yes"})
    assert no_reason.status == 422 and no_reason.error_of("reason") == "Say why the form version is withdrawn."
    kept = await browser.post(f"{path}/withdraw", {"reason": "Wrong lines"})
    assert kept.status == 422 and 'value="Wrong lines"' in kept.text
    withdrawn = await browser.post(f"{path}/withdraw", {"reason": "Wrong lines", "confirm": "yes"})
    assert withdrawn.status == 303
    [form] = await forms_at_updates(updates, operator, code)
    assert form["state"] == "withdrawn" and form["withdrawn_reason"] == "Wrong lines"
    again = await browser.get(f"{path}/withdraw")
    assert "there is nothing to confirm" in again.text and 'name="confirm"' not in again.text
    for missing in (f"/operator/forms/{code}/9.99/publish", "/operator/forms/%3Cx%3E/1.0/publish"):
        assert (await browser.get(missing)).status == 404

    # In Russian, with Russian dates.
    await browser.get("/language?lang=ru&next=/operator/forms")
    ru = await browser.get(f"/operator/forms?q={code}")
    assert f"Форма {code}, версия 5.01" in ru.text and "01.01.2027" in ru.text and "отозван" in ru.text
    ru_new = await post_multipart(browser, "/operator/forms", fields(code, "5.02", [configuration]))
    assert ru_new.error_of("file") == "Выберите файл формы." and 'value="5.02"' in ru_new.text


async def test_the_forms_pages_are_for_operators_only(portal: RunningApp, identity: RunningApp) -> None:
    account = await registered(identity)
    user = Browser(portal.url)
    try:
        assert (await user.log_in(account["login"], account["password"])).status == 303
        for path in ("/operator/forms", "/operator/forms/new", "/operator/forms/1151001/5.01/publish"):
            page = await user.get(path)
            assert page.status == 403 and "Operators only" in page.text, path
        await user.get("/")
        page = await post_multipart(user, "/operator/forms", fields("1151001", "5.01", ["X1"]), ("f.zip", b"x"))
        assert page.status == 403
    finally:
        await user.close()


async def test_the_forms_list_shows_a_page_at_a_time(
    browser: Browser, registration: RunningApp, updates: RunningApp, operator: Operator
) -> None:
    configuration = await catalogued(registration, updates, operator)
    code = form_code()
    for minor in range(27):
        body = {
            "name": "6-NDFL",
            "applies_from": "2027-01-01",
            "configurations": [configuration],
            "basis": {"number": "ED-7-11/1", "date": "2026-10-05"},
            "file": {"name": f"f{minor}.zip", "size": 10, "sha256": hashlib.sha256(str(minor).encode()).hexdigest()},
        }
        path = f"/v1/forms/{code}/versions/2.{minor}"
        async with updates.http.put(path, json=body, headers=operator.headers) as response:
            assert response.status == 201, await response.text()

    first = await browser.get(f"/operator/forms?q={code}")
    shown = rows(first.text)
    assert first.status == 200 and len(shown) == 25 and shown[0] == f"Form {code}, version 2.26"  # newest first
    assert "file not uploaded" in first.text and 'href="/operator/forms/' in first.text
    following = re.search(r'<a href="(/operator/forms\?[^"]*cursor=[^"]+)" rel="next">', first.text)
    assert following is not None
    second = await browser.get(following.group(1).replace("&amp;", "&"))
    assert rows(second.text) == [f"Form {code}, version 2.1", f"Form {code}, version 2.0"]
    stale = await browser.get(f"/operator/forms?q={code}&cursor=zz")  # an edited link: the first page again
    assert stale.status == 200 and rows(stale.text) == shown
    unknown = await browser.get(f"/operator/forms?configuration=NoSuch{configuration}")
    assert unknown.status == 422 and unknown.error_of("configuration") == "Choose a configuration from the list."
