"""HTTP conventions of every service, on a tiny app built with the shared app factory and served on a real port."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aio_pika
import aiohttp
import pydantic
import pytest
import structlog
from aiohttp import web
from yarl import URL

from shared.app import SAMPLE_SECONDS, create_app, setup_bus, setup_consumers, setup_db, setup_jobs, setup_outbox
from shared.consumer import Subscription
from shared.events import EXCHANGE
from shared.http import Api, Upserted
from shared.parsing import PathParams, StrictModel
from shared.problems import NotFound
from shared.settings import BaseServiceSettings
from tests.infra import RunningApp, wait_for
from tests.metric_names import scrape

if TYPE_CHECKING:
    from tests.integration.kernel_fixtures import Kernel, TcpProxy

pytest_plugins = ["tests.integration.kernel_fixtures"]

PROBLEM = "application/problem+json"
JSON = {"Content-Type": "application/json"}
SECRET = "hunter2-at-/srv/its/secret_module.py"


class ThingIn(StrictModel):
    name: str = pydantic.Field(min_length=1, max_length=40)
    count: int = pydantic.Field(ge=0)
    tags: list[str] = []


class ThingOut(pydantic.BaseModel):
    id: int
    name: str
    count: int


class ListQuery(StrictModel):
    limit: int = pydantic.Field(default=10, ge=1, le=100)
    newest_first: bool = False


class ThingPath(PathParams):
    code: str = pydantic.Field(pattern=r"^[A-Z]{3}$")


class SecretPath(PathParams):
    """An opaque id: one that is malformed is as unknown as any other."""

    secret_id: uuid.UUID

    @classmethod
    def malformed(cls, errors: list[dict[str, Any]]) -> NotFound:
        return NotFound("no such secret")


class ThingList(pydantic.BaseModel):
    items: list[ThingOut]


def build_api(stored: list[ThingIn]) -> Api:
    api = Api("Kernel test", description="The shared kernel's HTTP conventions")

    @api.post("/v1/things", summary="Create a thing", body=ThingIn, response=ThingOut, status=201, errors=(409,))
    async def create_thing(request: web.Request, body: ThingIn) -> ThingOut:
        stored.append(body)
        return ThingOut(id=len(stored), name=body.name, count=body.count)

    @api.get("/v1/things", summary="List things", query=ListQuery, response=ThingList)
    async def list_things(request: web.Request, query: ListQuery) -> ThingList:
        return ThingList(
            items=[ThingOut(id=i + 1, name=t.name, count=t.count) for i, t in enumerate(stored[: query.limit])]
        )

    @api.put("/v1/things/{code}", summary="Create or replace a thing", params=ThingPath, body=ThingIn, upsert=True)
    async def put_thing(request: web.Request, params: ThingPath, body: ThingIn) -> Upserted:
        created = not stored
        stored.append(body)
        return Upserted(ThingOut(id=len(stored), name=params.code, count=body.count), created)

    @api.get("/v1/secrets/{secret_id}", summary="A secret", params=SecretPath)
    async def get_secret(request: web.Request, params: SecretPath) -> None:
        raise NotFound("no such secret")

    @api.get("/v1/boom", summary="Fails unexpectedly")
    async def boom(request: web.Request) -> None:
        raise RuntimeError(f"database password {SECRET}")

    return api


def settings(tmp_path: Path, **kw: Any) -> BaseServiceSettings:
    return BaseServiceSettings(env="test", var_dir=tmp_path, client_max_size=64 * 1024, **kw)


@pytest.fixture
async def stored() -> list[ThingIn]:
    return []


@pytest.fixture
async def app(tmp_path: Path, stored: list[ThingIn]) -> AsyncIterator[RunningApp]:
    async with RunningApp(create_app(settings(tmp_path), service="kernel-test", api=build_api(stored))) as running:
        yield running


async def problem_of(response: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == PROBLEM, text
    body: dict[str, Any] = json.loads(text)
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    return body


async def post_raw(
    app: RunningApp, data: bytes | str, content_type: str | None = "application/json"
) -> aiohttp.ClientResponse:
    headers = {"Content-Type": content_type} if content_type else {}
    return await app.http.post("/v1/things", data=data, headers=headers)


def fields(problem: dict[str, Any]) -> set[str]:
    return {error["field"] for error in problem["errors"]}


async def test_a_valid_body_is_parsed_by_its_model(app: RunningApp, stored: list[ThingIn]) -> None:
    response = await app.http.post("/v1/things", json={"name": "kit", "count": 2})
    assert response.status == 201
    assert await response.json() == {"id": 1, "name": "kit", "count": 2}
    assert stored == [ThingIn(name="kit", count=2)]


async def test_malformed_json_is_400(app: RunningApp, stored: list[ThingIn]) -> None:
    for body in (b'{"name": "kit", "count": ', b"\xff\xfe not utf-8", b""):
        problem = await problem_of(await post_raw(app, body), 400)
        assert problem["type"].endswith("/malformed-json")
    assert stored == []


async def test_deeply_nested_json_is_a_client_error_not_a_500(app: RunningApp, stored: list[ThingIn]) -> None:
    depth = 30_000  # fits in the size limit, deeper than the JSON decoder's recursion limit
    response = await post_raw(app, "[" * depth + "]" * depth)
    assert 400 <= response.status < 500, await response.text()
    assert response.content_type == PROBLEM
    assert stored == []


@pytest.mark.parametrize(
    ("body", "failing"),
    [
        ({"name": "kit", "count": "many"}, {"count"}),  # wrong type
        ({"name": 12, "count": 1, "tags": "a"}, {"name", "tags"}),  # wrong types, two fields
        ({"count": 1}, {"name"}),  # missing
        ({}, {"name", "count"}),  # all missing
        ({"name": "kit", "count": 1, "admin": True}, {"admin"}),  # unknown field
        ({"name": "", "count": -1}, {"name", "count"}),  # constraints
        ({"name": "kit", "count": 1, "tags": ["a", 3]}, {"tags.1"}),  # nested
    ],
)
async def test_invalid_fields_are_422_listing_each_field(
    app: RunningApp, stored: list[ThingIn], body: dict[str, Any], failing: set[str]
) -> None:
    problem = await problem_of(await app.http.post("/v1/things", json=body), 422)
    assert problem["type"].endswith("/validation")
    assert fields(problem) == failing
    for error in problem["errors"]:
        assert error["message"]
        assert error["type"]
        assert "input" not in error  # the client's own values are not echoed back
    assert stored == []


@pytest.mark.parametrize(
    ("body", "failing"),
    [
        ({"name": "k\u0000it", "count": 1}, {"name"}),
        ({"name": "kit", "count": 1, "tags": ["a", "\u0000"]}, {"tags.1"}),
        ({"name": "kit", "count": 1, "\u0000": "x"}, {"(body)"}),  # a key: named by the object holding it
    ],
)
async def test_text_with_a_nul_character_is_422_before_it_reaches_postgresql(
    app: RunningApp, stored: list[ThingIn], body: dict[str, Any], failing: set[str]
) -> None:
    problem = await problem_of(await app.http.post("/v1/things", json=body), 422)
    assert fields(problem) == failing and {e["type"] for e in problem["errors"]} == {"nul"}
    problem = await problem_of(await app.http.get("/v1/things", params={"limit": "5\u0000"}), 422)
    assert fields(problem) == {"limit"}
    assert stored == []


async def test_a_body_that_is_not_an_object_is_422(app: RunningApp) -> None:
    problem = await problem_of(await post_raw(app, "[1, 2]"), 422)
    assert fields(problem) == {"(body)"}


async def test_an_oversized_body_is_413(app: RunningApp, stored: list[ThingIn]) -> None:
    big = json.dumps({"name": "kit", "count": 1, "tags": ["x" * 1000] * 100})
    problem = await problem_of(await post_raw(app, big), 413)
    assert problem["type"].endswith("/payload-too-large")
    assert stored == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_wrong_content_type_is_415(app: RunningApp, stored: list[ThingIn], content_type: str | None) -> None:
    problem = await problem_of(await post_raw(app, '{"name": "kit", "count": 1}', content_type), 415)
    assert problem["type"].endswith("/unsupported-media-type")
    assert stored == []


async def test_query_parameters_are_validated_too(app: RunningApp) -> None:
    assert (await app.http.get("/v1/things", params={"limit": "5"})).status == 200
    problem = await problem_of(await app.http.get("/v1/things", params={"limit": "lots"}), 422)
    assert fields(problem) == {"limit"}
    problem = await problem_of(await app.http.get("/v1/things", params={"limit": "5", "sort": "x"}), 422)
    assert fields(problem) == {"sort"}
    await problem_of(await app.http.get("/v1/things?limit=1&limit=2"), 400)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "kit", "count": False}, "count"),  # no integer is false
        ({"name": "kit", "count": "1"}, "count"),  # nor text
        ({"name": "kit", "count": 1.5}, "count"),
        ({"name": "kit", "count": 1, "tags": [0]}, "tags.0"),
    ],
)
async def test_json_bodies_are_strict(app: RunningApp, stored: list[ThingIn], body: dict[str, Any], field: str) -> None:
    problem = await problem_of(await app.http.post("/v1/things", json=body), 422)
    assert fields(problem) == {field}
    assert stored == []


async def test_an_integral_json_number_is_an_integer_as_json_schema_says(
    app: RunningApp, stored: list[ThingIn]
) -> None:
    response = await app.http.post("/v1/things", data='{"name": "kit", "count": 2.0}', headers=JSON)
    assert response.status == 201, await response.text()
    assert stored[0].count == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "+5"}, "limit"),
        ({"limit": "5.0"}, "limit"),
        ({"limit": " 5"}, "limit"),
        ({"limit": "1_0"}, "limit"),
        ({"limit": "false"}, "limit"),
        ({"newest_first": "0"}, "newest_first"),
        ({"newest_first": "yes"}, "newest_first"),
        ({"newest_first": "True"}, "newest_first"),
    ],
)
async def test_query_text_is_read_strictly(app: RunningApp, query: dict[str, str], field: str) -> None:
    """Booleans are `true`/`false`, integers digits: pydantic's lax reading of text (`0`, `yes`, `+5`) is refused."""
    problem = await problem_of(await app.http.get("/v1/things", params=query), 422)
    assert fields(problem) == {field}
    assert (await app.http.get("/v1/things", params={"limit": "-0", "newest_first": "true"})).status == 422
    assert (await app.http.get("/v1/things", params={"limit": "5", "newest_first": "false"})).status == 200


async def test_path_parameters_are_parsed_by_the_routes_model(app: RunningApp) -> None:
    problem = await problem_of(await app.http.put("/v1/things/abc", json={"name": "kit", "count": 1}), 422)
    assert fields(problem) == {"code"}
    await problem_of(await app.http.get("/v1/secrets/not-a-uuid"), 404)  # the model's own answer
    await problem_of(await app.http.get(f"/v1/secrets/{uuid.uuid4()}"), 404)


async def test_an_upserting_put_answers_201_when_it_creates_and_200_when_it_replaces(app: RunningApp) -> None:
    created = await app.http.put("/v1/things/ABC", json={"name": "kit", "count": 1})
    assert created.status == 201 and (await created.json())["name"] == "ABC"
    replaced = await app.http.put("/v1/things/ABC", json={"name": "kit", "count": 2})
    assert replaced.status == 200 and (await replaced.json())["count"] == 2


async def test_unknown_route_is_404_and_wrong_method_is_405(app: RunningApp) -> None:
    problem = await problem_of(await app.http.get("/v1/nothing-here"), 404)
    assert problem["instance"] == "/v1/nothing-here"
    response = await app.http.delete("/v1/things")
    await problem_of(response, 405)
    assert set(response.headers["Allow"].split(",")) >= {"GET", "POST"}


async def test_an_unexpected_error_is_a_500_with_no_internals(app: RunningApp) -> None:
    response = await app.http.get("/v1/boom")
    text = await response.text()
    problem = await problem_of(response, 500)
    assert problem["type"].endswith("/internal")
    for leak in (SECRET, "hunter2", "RuntimeError", "Traceback", "secret_module", "password"):
        assert leak not in text
        assert all(leak not in v for v in response.headers.values())


async def test_request_and_correlation_ids_are_echoed_or_generated(app: RunningApp) -> None:
    response = await app.http.get("/healthz", headers={"X-Request-ID": "req-1", "X-Correlation-ID": "flow-9"})
    assert (response.headers["X-Request-ID"], response.headers["X-Correlation-ID"]) == ("req-1", "flow-9")

    response = await app.http.get("/v1/nothing-here")  # problems carry them too
    generated = response.headers["X-Request-ID"]
    assert uuid.UUID(generated)
    assert response.headers["X-Correlation-ID"] == generated

    response = await app.http.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces" + "x" * 200})
    assert uuid.UUID(response.headers["X-Request-ID"])  # an unsafe id is replaced, not echoed


async def test_openapi_document_is_3_1_and_built_from_the_same_models(app: RunningApp) -> None:
    response = await app.http.get("/openapi.json")
    assert response.status == 200
    doc = await response.json()
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "Kernel test"
    assert doc["info"]["version"]
    post = doc["paths"]["/v1/things"]["post"]
    schema_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref == "#/components/schemas/ThingIn"
    assert post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/ThingOut")
    assert set(post["responses"]) >= {"201", "409", "422"}
    assert "application/problem+json" in post["responses"]["422"]["content"]
    get = doc["paths"]["/v1/things"]["get"]
    assert [p["name"] for p in get["parameters"]] == ["limit", "newest_first"]
    assert get["parameters"][0]["in"] == "query"
    schemas = doc["components"]["schemas"]
    assert schemas["ThingIn"] == ThingIn.model_json_schema(ref_template="#/components/schemas/{model}")
    assert schemas["ThingIn"]["additionalProperties"] is False
    assert set(schemas["ThingIn"]["required"]) == {"name", "count"}
    assert {"ThingOut", "ThingList", "Problem"} <= set(schemas)
    refs = {m for m in json.dumps(doc).split('"') if m.startswith("#/components/schemas/")}
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(schemas), "every $ref resolves"


async def test_healthz_and_metrics(app: RunningApp) -> None:
    with structlog.testing.capture_logs() as logs:
        assert (await app.http.get("/healthz")).status == 200
        assert (await app.http.get("/readyz?full=1")).status == 200  # nothing to depend on in this app
        await app.http.post("/v1/things", json={"count": "x"})
        await app.http.get("/v1/nothing-here")
        await app.http.get("/healthz/extra")
        response = await app.http.get("/metrics")
    # Probes and scrapes are counted, not access-logged; every other request is, matched or not, by its path.
    logged = [(e["method"], e["path"], e["status"]) for e in logs if e["event"] == "http.request"]
    assert logged == [("POST", "/v1/things", 422), ("GET", "/v1/nothing-here", 404), ("GET", "/healthz/extra", 404)]
    assert response.status == 200
    text = await response.text()
    assert 'http_requests_total{method="POST",route="/v1/things",status="422"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "http_request_duration_seconds_bucket" in text
    assert "outbox_backlog" in text
    assert "consumer_errors_total" in text


@dataclass
class Proxied:
    """An app with the kernel's database and broker, each reached through a proxy the test can cut."""

    app: web.Application
    config: BaseServiceSettings
    database: TcpProxy
    broker: TcpProxy


async def proxied_app(kernel: Kernel, tmp_path: Path) -> Proxied:
    db_url = URL(kernel.stack.database_url)
    assert db_url.host is not None
    assert db_url.port is not None
    pg_proxy = await kernel.proxy(db_url.host, db_url.port)
    amqp_proxy = await kernel.amqp_proxy()
    config = settings(
        tmp_path,
        database_url=str(db_url.with_port(pg_proxy.port)),
        amqp_url=kernel.amqp_url(port=amqp_proxy.port, reconnect_interval=0.3),
        db_pool_min=1,
    )
    app = create_app(config, service="kernel-test", api=Api("Kernel test"))
    setup_db(app, config, kernel.schema)
    setup_bus(app, config, "kernel-test")
    return Proxied(app, config, pg_proxy, amqp_proxy)


async def test_readyz_is_503_while_the_database_or_the_broker_is_unreachable(kernel: Kernel, tmp_path: Path) -> None:
    proxied = await proxied_app(kernel, tmp_path)
    app, pg_proxy, amqp_proxy = proxied.app, proxied.database, proxied.broker

    async def status(running: RunningApp) -> int:
        response = await running.http.get("/readyz")
        return response.status

    async with RunningApp(app) as running:
        assert await status(running) == 200

        await pg_proxy.cut()
        response = await running.http.get("/readyz")
        assert response.status == 503
        assert [f.split(":")[0] for f in (await response.json())["failures"]] == ["setup_db"]
        assert (await running.http.get("/healthz")).status == 200  # alive, just not ready
        await pg_proxy.restore()
        await wait_for(lambda: _is(status(running), 200), timeout=10, what="ready again after the database")

        await amqp_proxy.cut()
        await wait_for(lambda: _is(status(running), 503), timeout=10, what="not ready without the broker")
        response = await running.http.get("/readyz")
        assert [f.split(":")[0] for f in (await response.json())["failures"]] == ["setup_bus"]
        await amqp_proxy.restore()
        await wait_for(lambda: _is(status(running), 200), timeout=10, what="ready again after the broker")


async def test_metrics_show_what_waits_and_answer_while_the_database_is_away(kernel: Kernel, tmp_path: Path) -> None:
    """The outbox's backlog and the age of its oldest event grow while the broker is away; a scrape while the
    database is away answers all the same, within the samplers' bounds, and counts what it could not read."""
    proxied = await proxied_app(kernel, tmp_path)
    app, config, pg_proxy, amqp_proxy = proxied.app, proxied.config, proxied.database, proxied.broker
    setup_outbox(app, config, producer="kernel-test", schema=kernel.schema)
    setup_jobs(app, config, {"kernel_test.idle": lambda conn, job: asyncio.sleep(0)})
    queue = kernel.queue()
    setup_consumers(app, config, [Subscription(queue, {kernel.event().TYPE: kernel.record_effect("metrics")})])

    async with RunningApp(app) as running:
        figures = await scrape(running.http)
        assert figures["outbox_backlog"] == 0 and figures["outbox_oldest_pending_seconds"] == 0
        assert figures['deferred_jobs_due{kind="kernel_test.idle"}'] == 0
        assert figures[f'consumer_parked_messages{{queue="{queue}"}}'] == 0

        await amqp_proxy.cut()
        async with kernel.pool.acquire() as conn, conn.transaction():
            await kernel.outbox.add(conn, kernel.event()(n=1))
        await asyncio.sleep(1.1)
        figures = await scrape(running.http)
        assert figures["outbox_backlog"] == 1
        assert figures["outbox_oldest_pending_seconds"] >= 1
        assert figures["outbox_publish_failures_total"] >= 1  # the relay tried, and keeps trying

        await pg_proxy.cut()
        started = time.monotonic()
        figures = await scrape(running.http)
        assert time.monotonic() - started < SAMPLE_SECONDS + 2  # the figures are read at once, each bounded
        for sampler in ("outbox", "jobs", "dlq"):
            assert figures[f'metrics_sample_failures_total{{sampler="{sampler}"}}'] >= 1, sampler
        assert figures["outbox_backlog"] == 1  # the last value read

        await pg_proxy.restore()
        await amqp_proxy.restore()

        async def published() -> bool:
            figures = await scrape(running.http)
            return figures["outbox_backlog"] == 0 and figures["outbox_oldest_pending_seconds"] == 0

        await wait_for(published, timeout=20, what="the event published and the backlog gone")


async def _is(value: Any, expected: int) -> bool:
    return bool(await value == expected)


async def test_request_and_correlation_ids_follow_the_request_into_the_events_it_publishes(
    kernel: Kernel, tmp_path: Path
) -> None:
    event = kernel.event()
    api = Api("Kernel test")

    @api.post("/v1/things", summary="Create a thing", body=ThingIn, status=204)
    async def create_thing(request: web.Request, body: ThingIn) -> None:
        async with kernel.pool.acquire() as conn, conn.transaction():
            await kernel.outbox.add(conn, event(n=body.count))

    relay_bus = await kernel.bus("relay")  # declares the exchange
    connection = await aio_pika.connect(kernel.stack.amqp_url)
    try:
        channel = await connection.channel()
        probe = await channel.declare_queue(exclusive=True)
        await probe.bind(EXCHANGE, routing_key=event.TYPE)
        kernel.start(kernel.relay(relay_bus).run(), "relay")
        async with RunningApp(create_app(settings(tmp_path), service="kernel-test", api=api)) as running:
            response = await running.http.post(
                "/v1/things",
                json={"name": "kit", "count": 3},
                headers={"X-Request-ID": "req-77", "X-Correlation-ID": "flow-77"},
            )
            assert response.status == 204

        message = await wait_for(lambda: probe.get(no_ack=True, fail=False), timeout=10, what="the event")
        assert message.correlation_id == "flow-77"
        assert (message.headers or {}).get("x-correlation-id") == "flow-77"
        assert (message.headers or {}).get("x-request-id") == "req-77"
        assert json.loads(message.body)["correlation_id"] == "flow-77"
    finally:
        await connection.close()
