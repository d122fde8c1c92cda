"""A body that claims to be a form and cannot be read as one (a multipart without its boundary, a broken part,
text that is not in its charset) is a 400, never a 500: the portal's 400 page on every POST (its CSRF check reads
the form first), identity's password-reset form as problem+json, the operator's streamed kit upload as the 400
page; directly and through the gateway. The services, the portal and nginx are real processes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.e2e.browser_stack import portal_fixture, site_fixture  # noqa: F401  (fixtures `portal`, `site`)
from tests.e2e.flows import PASSWORD, new_operator
from tests.infra import ServiceProcess

MALFORMED = {
    "multipart without a boundary": ("multipart/form-data", b"csrf_token=x&login=anna&password=secret"),
    "broken multipart": ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data\r\n\r\nx"),
    "urlencoded that is not UTF-8": ("application/x-www-form-urlencoded", b"csrf_token=x&login=\xff\xfe"),
}
PORTAL_POSTS = ("/login", "/signup", "/forgot-password", "/logout", "/reset-password")
PROBLEM = "application/problem+json"
BAD_REQUEST = "https://its-portal.dev/problems/bad-request"
PAGE_400 = "The form could not be read"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=False), cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as session:
        yield session


async def post(http: aiohttp.ClientSession, url: str, case: str) -> tuple[int, str, str]:
    content_type, body = MALFORMED[case]
    async with http.post(url, data=body, headers={"Content-Type": content_type}, allow_redirects=False) as response:
        return response.status, response.content_type, await response.text()


@pytest.mark.parametrize("case", MALFORMED)
async def test_every_portal_post_answers_a_malformed_form_with_its_400_page(
    portal: ServiceProcess, site: str, http: aiohttp.ClientSession, case: str
) -> None:
    for base in (portal.url, site):
        for path in PORTAL_POSTS:
            status, content_type, text = await post(http, base + path, case)
            assert (status, content_type) == (400, "text/html"), (base, path, status, text[:300])
            assert PAGE_400 in text


@pytest.mark.parametrize("case", MALFORMED)
async def test_identity_answers_a_malformed_password_reset_form_with_a_400_problem(
    services: dict[str, ServiceProcess], site: str, http: aiohttp.ClientSession, case: str
) -> None:
    token = "A" * 43
    for url in (
        f"{services['identity'].url}/v1/password-resets/{token}",
        f"{site}/api/identity/v1/password-resets/{token}",
    ):
        status, content_type, text = await post(http, url, case)
        assert (status, content_type) == (400, PROBLEM), (url, status, text[:300])
        assert BAD_REQUEST in text


async def test_the_operators_streamed_kit_upload_answers_a_multipart_without_boundary_with_the_400_page(
    site: str, http: aiohttp.ClientSession
) -> None:
    login = await new_operator("Olga")
    async with http.get(f"{site}/login") as response:
        [csrf] = re.findall(r'name="csrf_token" value="([^"]*)"', await response.text())
    form = {"csrf_token": csrf, "login": login, "password": PASSWORD}
    async with http.post(f"{site}/login", data=form, allow_redirects=False) as response:
        assert response.status == 303, await response.text()
    status, content_type, text = await post(http, f"{site}/operator/releases", "multipart without a boundary")
    assert (status, content_type) == (400, "text/html"), text[:300]
    assert PAGE_400 in text
