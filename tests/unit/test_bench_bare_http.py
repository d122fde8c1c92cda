"""The benchmarks' bare HTTP client (bench/bare_http.py) and wrk's latency lines (bench/common.py), against a real
aiohttp server on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bench.bare_http import KeptConnection
from bench.common import wrk_latency_ms
from tests.infra import free_port


async def echo_form(request: web.Request) -> web.Response:
    form = await request.post()
    return web.json_response({"got": dict(form)}, status=201)


async def streamed(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(b"no length")
    await response.write_eof()
    return response


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/form", echo_form)
    app.router.add_get("/streamed", streamed)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_requests_built_once_are_sent_again_and_again_on_one_connection(server: str) -> None:
    connection = await KeptConnection.open(server)
    try:
        post = connection.form_post("/form", {"username": "anna", "password": "a b&c=d"})
        for _ in range(3):
            answer = await connection.send(post)
            assert answer.status == 201 and answer.body == b'{"got": {"username": "anna", "password": "a b&c=d"}}'
        assert (await connection.send(connection.get("/nowhere"))).status == 404
    finally:
        await connection.close()


async def test_an_answer_without_a_length_is_an_error_not_a_figure(server: str) -> None:
    connection = await KeptConnection.open(server)
    try:
        with pytest.raises(RuntimeError, match="Transfer-Encoding chunked"):
            await connection.send(connection.get("/streamed"))
    finally:
        await connection.close()


def test_wrk_latency_percentiles_in_ms() -> None:
    output = "  Latency Distribution\n     50%   21.35ms\n     75%  812.00us\n     90%    1.20s\n     99%   25.10ms\n"
    assert wrk_latency_ms(output, "50") == 21.35
    assert wrk_latency_ms(output, "75") == pytest.approx(0.812)
    assert wrk_latency_ms(output, "90") == 1200.0
    with pytest.raises(RuntimeError):
        wrk_latency_ms(output, "95")
