"""The AsyncAPI documents (shared/asyncapi.py) say what the code does: every event type declared in shared/events is in
its producer's document on its routing key, with its version; every queue a service consumes is a receiver there,
of exactly the types its subscription handles. The official validator's verdict is tests/contract/test_asyncapi.py."""

from __future__ import annotations

from typing import Any

import pytest

from shared.asyncapi import build_asyncapi, event_types, service_asyncapi
from shared.bus import EVENT_LOG_STREAM
from shared.consumer import Subscription
from shared.events import EXCHANGE, Event
from shared.keys import SUBSCRIPTIONS
from shared.revocations import REVOCATIONS, REVOKING_TYPES
from tests.service_apps import SERVICES, service_app


def _document(service: str) -> dict[str, Any]:
    return service_asyncapi(service_app(service), service)


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {service: _document(service) for service in SERVICES}


def _declared(cls: type[Event]) -> set[type[Event]]:
    found = set()
    for sub in cls.__subclasses__():
        if "TYPE" in sub.__dict__:
            found.add(sub)
        found |= _declared(sub)
    return found


def test_every_event_model_is_found_and_named_after_its_producer() -> None:
    types = event_types()  # imports every module of shared/events: then Event knows all its subclasses
    assert {t.model for t in types.values()} >= {m for m in _declared(Event) if m.__module__.startswith("shared.")}
    for name, event in types.items():
        assert name.startswith(f"{event.producer}."), f"{name} is declared in shared/events/{event.producer}.py"


def test_every_event_type_is_sent_on_its_routing_key_by_its_producer(documents: dict[str, dict[str, Any]]) -> None:
    for name, event in event_types().items():
        document = documents[event.producer]
        channel = document["channels"][name]
        assert channel["address"] == event.routing_key == name
        assert channel["bindings"]["amqp"]["exchange"]["name"] == EXCHANGE
        operation = document["operations"][f"send.{name}"]
        assert operation["action"] == "send"
        assert operation["channel"] == {"$ref": f"#/channels/{name}"}
        message = document["components"]["messages"][name]
        payload = message["payload"]["properties"]
        assert payload["type"]["const"] == name
        assert payload["version"]["const"] == event.model.VERSION
        assert payload["producer"]["const"] == event.producer
        data = document["components"]["schemas"][event.model.__name__]
        assert set(data["properties"]) == set(event.model.model_fields)
        assert message["bindings"]["amqp"]["messageType"] == name
        # sent by its producer only
        others = [s for s, d in documents.items() if f"send.{name}" in d["operations"] and s != event.producer]
        assert others == []


def test_every_subscription_queue_is_a_receiver_of_its_types(documents: dict[str, dict[str, Any]]) -> None:
    queues = 0
    for service in SERVICES:
        document = documents[service]
        app = service_app(service)
        subscriptions: list[Subscription] = app.get(SUBSCRIPTIONS, [])
        for subscription in subscriptions:
            queues += 1
            channel = document["channels"][subscription.queue]
            assert channel["address"] == subscription.queue
            assert channel["bindings"]["amqp"]["is"] == "queue"
            operation = document["operations"][f"receive.{subscription.queue}"]
            assert operation["action"] == "receive"
            received = {ref["$ref"].rsplit("/", 1)[1] for ref in operation["messages"]}
            assert received == set(subscription.handlers)
            # each received type has its routing-key channel too, where its producer sends it
            assert received <= set(document["channels"])
    assert queues >= 5


def test_the_envelope_headers_are_those_the_relay_sets(documents: dict[str, dict[str, Any]]) -> None:
    message = next(iter(documents["contracts"]["components"]["messages"].values()))
    assert set(message["headers"]["properties"]) == {"x-request-id", "x-correlation-id", "traceparent", "tracestate"}
    assert message["correlationId"]["location"] == "$message.header#/x-correlation-id"
    assert {"id", "type", "version", "occurred_at", "producer", "correlation_id", "causation_id", "data"} <= set(
        message["payload"]["properties"]
    )


def test_a_service_that_sends_nothing_has_no_send_operations(documents: dict[str, dict[str, Any]]) -> None:
    assert not [op for op in documents["notifications"]["operations"] if op.startswith("send.")]
    assert documents["notifications"]["operations"]


def test_broker_credentials_stay_out_of_the_document() -> None:
    document = build_asyncapi(
        "x", producer=None, subscriptions=[], brokers=["amqp://user:secret@node1:5673/its", "amqps://u:p@node2/"]
    )
    assert document["servers"]["rabbitmq1"]["host"] == "node1:5673"
    assert document["servers"]["rabbitmq2"]["host"] == "node2:5671"
    assert document["servers"]["rabbitmq2"]["protocol"] == "amqps"
    assert "secret" not in str(document)


def test_every_service_follows_the_revocations_stream(documents: dict[str, dict[str, Any]]) -> None:
    for service, document in documents.items():
        operation = document["operations"][f"follow.{REVOCATIONS.name}"]
        assert operation["action"] == "receive"
        assert document["channels"][REVOCATIONS.name]["address"] == REVOCATIONS.name
        assert {ref["$ref"].rsplit("/", 1)[1] for ref in operation["messages"]} == REVOKING_TYPES, service


def test_a_stream_bound_to_a_wildcard_is_refused() -> None:
    with pytest.raises(ValueError, match=r"its\.events\.log"):
        build_asyncapi("x", producer=None, subscriptions=[], streams=[EVENT_LOG_STREAM])
