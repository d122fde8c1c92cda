"""Which fields of a form are kept across a login (issue 17), and which forms: never a secret, never another site's."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request
from cryptography.exceptions import InvalidTag

from services.portal import csrf, kept_forms, sealing


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "current_password",
        "new_password",
        "pin",
        "PIN",
        "csrf_token",
        "token",
        "client_secret",
        "idempotency_key",
        "delivery-key",
    ],
)
def test_secrets_are_never_kept(name: str) -> None:
    assert kept_forms.is_secret(name)
    assert kept_forms.fields_to_keep({name: "s3cret", "company_name": "Romashka LLC"}) == {
        "company_name": "Romashka LLC"
    }


@pytest.mark.parametrize(
    "name", ["name", "company_name", "registration_number", "subscriber_code", "spinner", "pinned_notes", "keyword"]
)
def test_other_fields_are_kept(name: str) -> None:
    assert not kept_forms.is_secret(name)


def test_a_form_too_large_to_keep_is_not_kept() -> None:
    assert kept_forms.fields_to_keep({"message": "x" * kept_forms.MAX_CHARS}) is None
    assert kept_forms.fields_to_keep({"message": "x" * 100}) == {"message": "x" * 100}


@pytest.mark.parametrize(
    ("headers", "same"),
    [
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Sec-Fetch-Site": "cross-site", "Origin": "http://portal.example"}, False),
        ({"Sec-Fetch-Site": "same-site"}, False),
        ({"Origin": "http://portal.example"}, True),
        ({"Origin": "https://portal.example:8443"}, True),  # behind the gateway the portal's Host has no port
        ({"Origin": "https://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({}, False),
    ],
)
def test_only_a_form_from_this_site_is_kept(headers: dict[str, str], same: bool) -> None:
    request = make_mocked_request("POST", "/subscriber/name", headers={"Host": "portal.example", **headers})
    assert kept_forms.same_origin(request) is same


@pytest.mark.parametrize(
    ("referer", "page"),
    [
        ("https://portal.example/subscriber?renamed=1", "/subscriber?renamed=1"),
        ("https://evil.example/subscriber", None),
        (None, None),
        ("not a url", None),
    ],
)
def test_the_forms_page_is_its_referer_on_this_site(referer: str | None, page: str | None) -> None:
    headers = {"Host": "portal.example", **({"Referer": referer} if referer else {})}
    request = make_mocked_request("POST", "/subscriber/name", headers=headers)
    assert kept_forms.form_page(request) == page


def test_kept_fields_open_only_with_the_cookies_id() -> None:
    raw, other = sealing.new_id(), sealing.new_id()
    row = sealing.derive("kept-form-id", raw)
    sealed = sealing.seal(sealing.derive("kept-form-fields", raw), b'{"name": "x"}', row)
    assert sealing.unseal(sealing.derive("kept-form-fields", raw), sealed, row) == b'{"name": "x"}'
    with pytest.raises(InvalidTag):
        sealing.unseal(sealing.derive("kept-form-fields", other), sealed, row)


def test_only_a_form_with_a_token_as_the_pages_write_them_is_kept() -> None:
    assert kept_forms.carries_a_page_token({"csrf_token": csrf.masked(sealing.b64(sealing.new_id()))})
    unmasked = sealing.b64(sealing.new_id())
    for forged in ("", "not-the-token", "x" * 42, "!" * 43, unmasked, csrf.masked("not a secret")):
        assert not kept_forms.carries_a_page_token({"csrf_token": forged})
    assert not kept_forms.carries_a_page_token({})
