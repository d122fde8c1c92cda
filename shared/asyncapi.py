"""AsyncAPI 3.0 from the versioned event models in shared/events and the subscriptions a service consumes with.

Each service serves `/asyncapi.json`: the events it sends (its outbox's producer owns `shared/events/<producer>.py`)
and the queues it receives from (shared.app.setup_consumers' subscriptions). Nothing in the document is written by
hand: a new event model, a changed field or a new subscription changes it, and `make test` runs the official
validator (@asyncapi/cli) on every service's document (tests/contract/test_asyncapi.py).

What a message is on the wire, as the outbox relay (shared/outbox.py) and shared.bus.Bus.publish send it:
- the body: the Envelope as JSON, `data` the event's model;
- AMQP properties: content_type application/json, delivery_mode 2 (persistent), message_id = the envelope's id,
  type = the event type (= routing key), correlation_id = the envelope's correlation id;
- headers: x-request-id (the HTTP request that caused it), x-correlation-id, and the W3C trace context
  (traceparent, tracestate) when tracing is on.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic
from aiohttp import web
from yarl import URL

import shared.events
from shared.bus import Stream
from shared.consumer import Subscription
from shared.events import EXCHANGE, Envelope, Event
from shared.keys import FOLLOWED_STREAMS, OUTBOX, SUBSCRIPTIONS

ASYNCAPI = "3.0.0"
# The AMQP bindings' version (github.com/asyncapi/bindings, amqp).
AMQP_BINDING = "0.3.0"
REF = "#/components/schemas/{model}"
AMQP_PORTS = {"amqp": 5672, "amqps": 5671}

_EXCHANGE_BINDING = {
    "name": EXCHANGE,
    "type": "topic",
    "durable": True,
    "autoDelete": False,
    "vhost": "/",
}

# The application headers the relay puts on every event (shared/outbox.py OutboxRelay._publish, Outbox.add_many).
HEADERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "x-request-id": {
            "type": "string",
            "description": "The id of the HTTP request whose transaction recorded the event (X-Request-ID); "
            "absent for events of jobs and consumers",
        },
        "x-correlation-id": {
            "type": "string",
            "description": "The envelope's correlation_id (also the AMQP correlation_id property): the request or "
            "first event of the flow this event belongs to",
        },
        "traceparent": {
            "type": "string",
            "description": "W3C trace context of the publish span (when tracing is on)",
            "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        },
        "tracestate": {"type": "string", "description": "W3C trace state (when tracing is on)"},
    },
}


@dataclass(frozen=True)
class EventType:
    """One kind of event: its model and the service that produces it (the module it is declared in)."""

    model: type[Event]
    producer: str

    @property
    def routing_key(self) -> str:
        return self.model.TYPE  # the routing key on its.events is the event type (shared.outbox)


def event_types() -> dict[str, EventType]:
    """Every event type declared in shared/events, by type; `shared/events/<service>.py` holds what <service> sends."""
    found: dict[str, EventType] = {}
    for module_info in pkgutil.iter_modules(shared.events.__path__):
        module = importlib.import_module(f"{shared.events.__name__}.{module_info.name}")
        for model in vars(module).values():
            if inspect.isclass(model) and issubclass(model, Event) and model.__module__ == module.__name__:
                if "TYPE" not in model.__dict__:
                    continue  # a base of events (ContractEvent), not an event
                if model.TYPE in found:
                    raise ValueError(f"event type {model.TYPE} declared twice")
                found[model.TYPE] = EventType(model, module_info.name)
    return dict(sorted(found.items()))


def service_asyncapi(app: web.Application, service: str, brokers: Sequence[str] = ()) -> dict[str, Any]:
    """The document of a service's app as its setup_outbox, setup_consumers and setup_revocations made it."""
    subscriptions: list[Subscription] = app.get(SUBSCRIPTIONS, [])
    streams: list[Stream] = app.get(FOLLOWED_STREAMS, [])
    producer = app[OUTBOX].producer if OUTBOX in app else None
    return build_asyncapi(service, producer=producer, subscriptions=subscriptions, streams=streams, brokers=brokers)


def build_asyncapi(
    service: str,
    *,
    producer: str | None,
    subscriptions: Sequence[Subscription],
    streams: Sequence[Stream] = (),
    brokers: Sequence[str] = (),
) -> dict[str, Any]:
    """The AsyncAPI document of a service that sends `producer`'s events (None: it sends none), receives on
    `subscriptions` and follows `streams`; `brokers` are its broker URLs (credentials left out of the document)."""
    types = event_types()
    sent = [t for t in types.values() if t.producer == producer]
    received: dict[str, list[EventType]] = {}
    for subscription in subscriptions:
        unknown = sorted(set(subscription.handlers) - set(types))
        if unknown:
            raise ValueError(f"{service}: queue {subscription.queue} handles undeclared event types {unknown}")
        received[subscription.queue] = [types[name] for name in sorted(subscription.handlers)]
    followed: dict[str, list[EventType]] = {}
    for stream in streams:
        unknown = sorted(set(stream.routing_keys) - set(types))
        if unknown:  # a wildcard (the event log's `#`) is not a type this document can list
            raise ValueError(f"{service}: stream {stream.name} is bound to {unknown}, not declared event types")
        followed[stream.name] = [types[key] for key in sorted(stream.routing_keys)]

    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    used = {t.routing_key: t for t in sent} | {
        t.routing_key: t for ts in [*received.values(), *followed.values()] for t in ts
    }
    for key, event in sorted(used.items()):
        messages[key] = _message(event, schemas)
        channels[key] = {
            "address": event.routing_key,
            "title": event.model.__name__,
            "description": f"Events of type {key}, published by {event.producer} on the topic exchange {EXCHANGE}",
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
            "bindings": {"amqp": {"is": "routingKey", "exchange": _EXCHANGE_BINDING, "bindingVersion": AMQP_BINDING}},
        }
    for event in sent:
        key = event.routing_key
        operations[f"send.{key}"] = {
            "action": "send",
            "title": f"Publish {event.model.__name__}",
            "description": "Recorded in the outbox in the transaction of the state change; the relay publishes it "
            "with publisher confirms, mandatory (an unroutable event is an error)",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
            "bindings": {"amqp": {"deliveryMode": 2, "mandatory": True, "bindingVersion": AMQP_BINDING}},
        }
    for queue, queue_types in received.items():
        channels[queue] = {
            "address": queue,
            "title": f"Queue {queue}",
            "description": f"{service}'s durable quorum queue, bound to {EXCHANGE} by the routing keys of the events "
            f"it handles: {', '.join(t.routing_key for t in queue_types)}. A failing event is retried through "
            f"{queue}.retry.<ms> and parked in {queue}.dlq (shared/consumer.py)",
            "messages": {t.routing_key: {"$ref": f"#/components/messages/{t.routing_key}"} for t in queue_types},
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {"name": queue, "durable": True, "exclusive": False, "autoDelete": False, "vhost": "/"},
                    "bindingVersion": AMQP_BINDING,
                }
            },
        }
        operations[f"receive.{queue}"] = {
            "action": "receive",
            "title": f"Consume {queue}",
            "description": "Manual acks; each event handled once (the consumer's inbox) in a database transaction",
            "channel": {"$ref": f"#/channels/{queue}"},
            "messages": [{"$ref": f"#/channels/{queue}/messages/{t.routing_key}"} for t in queue_types],
            "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING}},
        }

    for stream in streams:
        channels[stream.name] = {
            "address": stream.name,
            "title": f"Stream {stream.name}",
            "description": f"A retained stream (kept {stream.max_age}) bound to {EXCHANGE} by "
            f"{', '.join(stream.routing_keys)}; every process of {service} reads it from a point in time on start, "
            "with no queue of its own (shared.bus.Bus.follow)",
            "messages": {
                t.routing_key: {"$ref": f"#/components/messages/{t.routing_key}"} for t in followed[stream.name]
            },
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {
                        "name": stream.name,
                        "durable": True,
                        "exclusive": False,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": AMQP_BINDING,
                }
            },
        }
        operations[f"follow.{stream.name}"] = {
            "action": "receive",
            "title": f"Follow {stream.name}",
            "channel": {"$ref": f"#/channels/{stream.name}"},
            "messages": [{"$ref": f"#/channels/{stream.name}/messages/{t.routing_key}"} for t in followed[stream.name]],
        }

    return {
        "asyncapi": ASYNCAPI,
        "info": {
            "title": f"ITS Portal {service} events",
            "version": "1.0.0",
            "description": f"The events {service} sends and receives on the RabbitMQ topic exchange {EXCHANGE}, "
            "generated from shared/events (each event's own version is its envelope's `version`).",
        },
        "defaultContentType": "application/json",
        "servers": _servers(brokers),
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _servers(brokers: Sequence[str]) -> dict[str, Any]:
    servers: dict[str, Any] = {}
    for n, broker in enumerate(brokers or ("amqp://localhost:5672/",), start=1):
        url = URL(broker)
        vhost = url.path[1:] or "/"
        servers[f"rabbitmq{n}"] = {
            "host": f"{url.host}:{url.port or AMQP_PORTS[url.scheme]}",
            "protocol": url.scheme,
            "protocolVersion": "0-9-1",
            "description": f"A RabbitMQ node (vhost {vhost}); the exchange {EXCHANGE} is a durable topic exchange",
        }
    return servers


def _message(event: EventType, schemas: dict[str, Any]) -> dict[str, Any]:
    model = event.model
    data = _schema_ref(model, schemas)
    envelope = Envelope.model_json_schema(ref_template=REF)
    properties = dict(envelope["properties"])
    properties["type"] = {"const": model.TYPE, "type": "string", "description": "The event type (= routing key)"}
    properties["version"] = {"const": model.VERSION, "type": "integer", "description": "The data's schema version"}
    properties["producer"] = {"const": event.producer, "type": "string"}
    properties["data"] = data
    for name, text in (
        ("id", "The event's id: also the AMQP message_id; consumers' inboxes deduplicate by it"),
        ("correlation_id", "The request or first event of the flow; also the AMQP correlation_id"),
        ("causation_id", "The id of the event whose handling recorded this one (null: a request or job)"),
    ):
        properties[name] = {**properties[name], "description": text}
    doc = inspect.cleandoc(model.__dict__.get("__doc__") or "")  # its own: an inherited one says nothing of it
    return {
        "name": model.__name__,
        "title": f"{model.__name__} v{model.VERSION}",
        "summary": doc.split("\n\n")[0].replace("\n", " ") or model.TYPE,
        "contentType": "application/json",
        "headers": HEADERS,
        "payload": {
            "type": "object",
            "title": f"Envelope of {model.TYPE}",
            "properties": properties,
            "required": envelope.get("required", []),
        },
        "correlationId": {
            "description": "The flow this event belongs to",
            "location": "$message.header#/x-correlation-id",
        },
        "bindings": {"amqp": {"messageType": model.TYPE, "bindingVersion": AMQP_BINDING}},
    }


def _schema_ref(model: type[pydantic.BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=REF)
    for name, definition in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two different schemas named {name}")
    return {"$ref": REF.format(model=model.__name__)}


def add_asyncapi_route(app: web.Application, build: Callable[[], dict[str, Any]]) -> None:
    """`GET /asyncapi.json`: `build()`'s document, built once on first request (the app is complete by then)."""
    document: dict[str, Any] = {}

    async def asyncapi_json(request: web.Request) -> web.Response:
        if not document:
            document.update(build())
        return web.json_response(document)

    app.router.add_get("/asyncapi.json", asyncapi_json)
