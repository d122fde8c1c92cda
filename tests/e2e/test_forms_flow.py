"""Regulated reporting forms end to end (rule DAT-2 with UPD-3, UPD-4): identity, registration, contracts, updates
and notifications as real processes; an operator publishes a form version with its file, the owner is e-mailed, a
client program logged in with the password grant asks which forms to receive and downloads the file with curl
through the signed link; another subscriber is refused with the offer."""

from __future__ import annotations

import os

from tests.drawn import form_code
from tests.e2e.contracts_flows import contracts_db, flow, registration_db
from tests.e2e.flows import PROBLEMS, body_text, problem_type
from tests.e2e.test_updates_flow import LONG_AGO, Updates, owner_with, updates

__all__ = ["contracts_db", "flow", "registration_db", "updates"]  # fixtures


async def test_dat2_a_published_form_reaches_the_client_program_and_the_owner(updates: Updates) -> None:
    operator = await updates.flow.portal.operator()
    owner, configuration, _ = await owner_with(updates, operator, edition="BASIC", purchase_date=LONG_AGO)
    stranger = await updates.flow.customer("Stranger Things")
    await updates.visible(owner, configuration)  # updates has learnt the registration

    code, content = form_code(), os.urandom(120_000)
    form_id = await updates.form(operator, configuration, code, "5.01", content, publish=False)
    # A file that is not the declared one is refused; the right one is taken.
    wrong = await updates.call(
        "PUT",
        f"/v1/form-versions/{form_id}/file",
        operator,
        data=os.urandom(len(content)),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert wrong.status == 422 and problem_type(wrong.body) == PROBLEMS + "kit-mismatch"
    await updates.upload_form_and_publish(operator, form_id, content)

    # The client program logs in with the password grant (ACC-3) and asks what to receive, holding an older version.
    token = await updates.flow.portal.login(owner.login)
    asked = await updates.call(
        "POST", "/v1/forms/updates", token, json={"configuration": configuration, "forms": {code: "5.0"}}
    )
    assert asked.status == 200, asked.body
    [form] = asked.body["forms"]
    assert (form["code"], form["version"], form["file"]["size"]) == (code, "5.01", len(content))
    out = updates.tmp / form["file"]["name"]
    assert await updates.curl(form["file"]["url"], out) == 0
    assert out.read_bytes() == content
    current = await updates.call(
        "POST", "/v1/forms/updates", token, json={"configuration": configuration, "forms": {code: "5.01"}}
    )
    assert current.status == 200 and current.body["forms"] == []

    # Another subscriber: refused, with the products that include the configuration (UPD-3, REG-6).
    refused = await updates.call(
        "POST", "/v1/forms/updates", stranger.token, json={"configuration": configuration, "forms": {}}
    )
    assert refused.status == 403 and problem_type(refused.body) == PROBLEMS + "configuration-not-registered"
    assert refused.body["offer"]["products"], refused.body

    # notifications e-mailed the owner, with release news' one-click unsubscribe.
    [letter] = await updates.flow.mail(owner.email, f"Form {code}")
    assert "List-Unsubscribe-Post" in letter and f"/releases/{configuration}/forms" in body_text(letter)
