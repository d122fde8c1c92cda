"""Reading forms, as every service and the portal read them (`shared.parsing.read_form_fields`, `reading_form`): a body
that claims to be a form and cannot be read as one is a 400 problem+json, a body of another type a 415; never a
500. On a tiny app built with the shared app factory, served on a real port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pydantic
import pytest
from aiohttp import web

from shared.app import create_app
from shared.http import Api
from shared.parsing import StrictModel, read_form_fields, reading_form
from shared.settings import BaseServiceSettings
from tests.infra import RunningApp

PROBLEM = "application/problem+json"
PROBLEMS = "https://its-portal.dev/problems/"

# Bodies that say they are forms and are not: each was a 500 before the kernel read forms in one place.
MALFORMED = {
    "multipart without a boundary": ("multipart/form-data", b"name=anna"),
    "multipart without its first boundary": ("multipart/form-data; boundary=xyz", b"name=anna"),
    "multipart part without a name": (
        "multipart/form-data; boundary=xyz",
        b"--xyz\r\nContent-Disposition: form-data\r\n\r\nanna\r\n--xyz--\r\n",
    ),
    "multipart cut short": (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nanna',
    ),
    "multipart part in an unknown transfer encoding": (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="name"\r\nContent-Transfer-Encoding: rot13\r\n\r\n'
        b"anna\r\n--xyz--\r\n",
    ),
    "multipart part in an unknown charset": (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="name"\r\nContent-Type: text/plain; charset=no-such\r\n\r\n'
        b"anna\r\n--xyz--\r\n",
    ),
    "multipart part with a header name that is not a token": (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="name"\r\nBad Header: x\r\n\r\nanna\r\n--xyz--\r\n',
    ),
    "urlencoded that is not UTF-8": ("application/x-www-form-urlencoded", b"name=\xff\xfe"),
    "urlencoded in an unknown charset": ("application/x-www-form-urlencoded; charset=no-such", b"name=anna"),
}


class NameIn(StrictModel):
    name: str = pydantic.Field(min_length=1)


def forms_api() -> Api:
    api = Api("Kernel forms test")

    @api.post("/v1/typed", summary="A form parsed into a model (urlencoded only)", body=NameIn, form=True)
    async def typed(request: web.Request, body: NameIn) -> web.Response:
        return web.json_response({"name": body.name})

    @api.post("/v1/fields", summary="A form read as fields (urlencoded or multipart)")
    async def fields(request: web.Request) -> web.Response:
        form = await read_form_fields(request)
        return web.json_response({"name": form.get("name")})

    @api.post("/v1/stream", summary="A multipart form read as a stream")
    async def stream(request: web.Request) -> web.Response:
        names = []
        with reading_form():
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                assert isinstance(part, aiohttp.BodyPartReader)
                names.append(part.name)
                await part.text()
        return web.json_response({"names": names})

    return api


@pytest.fixture(scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningApp]:
    settings = BaseServiceSettings(env="test", var_dir=Path(tmp_path_factory.mktemp("forms")))
    async with RunningApp(create_app(settings, service="kernel-forms", api=forms_api())) as running:
        yield running


@pytest.mark.parametrize("case", MALFORMED)
async def test_a_body_that_is_not_the_form_it_claims_is_a_400_problem(app: RunningApp, case: str) -> None:
    content_type, body = MALFORMED[case]
    paths = ["/v1/fields"] + (["/v1/typed"] if content_type.startswith("application/") else ["/v1/stream"])
    if case == "multipart part without a name":  # a reader of the stream may take nameless parts
        paths.remove("/v1/stream")
    for path in paths:
        async with app.http.post(path, data=body, headers={"Content-Type": content_type}) as response:
            assert response.status == 400, (path, await response.text())
            assert response.content_type == PROBLEM
            problem = await response.json()
            assert problem["type"] == PROBLEMS + "bad-request" and problem["instance"] == path
            assert problem["detail"].startswith("the form cannot be read")


async def test_forms_that_are_forms_are_read(app: RunningApp) -> None:
    async with app.http.post("/v1/typed", data={"name": "anna"}) as response:
        assert response.status == 200 and await response.json() == {"name": "anna"}
    async with app.http.post("/v1/fields", data={"name": "anna"}) as response:
        assert response.status == 200 and await response.json() == {"name": "anna"}
    multipart = b'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nanna\r\n--xyz--\r\n'
    for path, expected in (("/v1/fields", {"name": "anna"}), ("/v1/stream", {"names": ["name"]})):
        headers = {"Content-Type": "multipart/form-data; boundary=xyz"}
        async with app.http.post(path, data=multipart, headers=headers) as response:
            assert response.status == 200 and await response.json() == expected


async def test_a_body_that_is_no_form_at_all_is_a_415_problem(app: RunningApp) -> None:
    for path, accepted in (
        ("/v1/fields", "application/x-www-form-urlencoded or multipart/form-data"),
        ("/v1/typed", "application/x-www-form-urlencoded"),
    ):
        async with app.http.post(path, json={"name": "anna"}) as response:
            assert response.status == 415 and response.content_type == PROBLEM
            problem = await response.json()
            assert problem["detail"] == f"send the body as {accepted}"
            assert problem["received"] == "application/json"
    headers = {"Content-Type": "multipart/form-data; boundary=xyz"}
    async with app.http.post("/v1/typed", data=b"--xyz--\r\n", headers=headers) as response:
        assert response.status == 415, "a model-parsed form (OAuth's token endpoint) takes urlencoded only"
