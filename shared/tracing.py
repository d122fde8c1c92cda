"""Traces (OpenTelemetry), set up once per process from the standard `OTEL_*` variables, and off unless asked for.

On when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`: OTLP over HTTP to `OTEL_EXPORTER_OTLP[_TRACES]_ENDPOINT`;
`otlp_json_file`: OTLP JSON lines in `<ITS_VAR_DIR>/traces/<service>-<pid>.jsonl`, what `make run` sets and
`itsctl trace` reads; `console`), or, with no exporter named, when an OTLP endpoint is set. `none`, or
`OTEL_SDK_DISABLED=true`, is off. Off, nothing is installed: no instrumentation, no middleware, no log processor,
and every function here returns at its first line (`ENABLED`), so the request path costs what it did before.

On, the maintained instrumentations trace aiohttp's server and client, asyncpg and aio-pika (which injects the
W3C `traceparent` into every published message and continues it around every consumer's callback), and the kernel
carries the context where they cannot see it: in the outbox row's headers (shared/outbox.py), in a deferred job's
row (shared/jobs.py: its run links to what scheduled it), and around each event's handler (shared/consumer.py).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import CarrierT, Getter, Setter, TextMapPropagator, default_getter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

# Read on every hot path: False until `configure_tracing` turned tracing on in this process.
ENABLED = False

# The W3C trace context as saved in a row (outbox headers, a job, a contract): {"traceparent": …, "tracestate": …}.
Carrier = dict[str, str]

TRACER_NAME = "its"
# A span links to at most this many others (the processing day's run to the contracts it activates): the SDK keeps
# 128 by default (OTEL_SPAN_LINK_COUNT_LIMIT), and a trace viewer lists them all; the rest are counted, not linked.
MAX_LINKS = 128
# Probes and scrapes make no traces.
QUIET_URLS = "^/healthz$,^/readyz$,^/metrics$"
INSTRUMENTATIONS = ("aiohttp-server", "aiohttp-client", "asyncpg", "aio-pika")


def exporters_asked() -> list[str]:
    """The exporters the environment asks for; [] is off."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    named = [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if not named:  # the specification's default is `otlp`; here it is only where an endpoint says where to
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        return ["otlp"] if endpoint else []
    return [] if named == ["none"] else [n for n in named if n != "none"]


def configure_tracing(service: str, *, var_dir: Path) -> bool:
    """Turn tracing on for this process if the environment asks for it (`exporters_asked`); True if it did.

    Called once per process (shared/service_main.py), before the app is created: aiohttp's instrumentation
    replaces `web.Application`. `OTEL_SERVICE_NAME` defaults to `service`; the sampler is `OTEL_TRACES_SAMPLER`'s
    (parentbased_always_on by default), except that a database query or HTTP call with no parent is never sampled
    (`_QuietRoots`); `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS` (e.g. `asyncpg`) leaves instrumentations out."""
    global ENABLED
    exporters = exporters_asked()
    if ENABLED or not exporters:
        return ENABLED
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import _get_from_env_or_default

    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource, sampler=_QuietRoots(_get_from_env_or_default()))
    for name in exporters:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name, service, var_dir)))
    trace.set_tracer_provider(provider)
    propagate.set_global_textmap(LenientPropagator(propagate.get_global_textmap()))
    _instrument()
    ENABLED = True
    return True


def _exporter(name: str, service: str, var_dir: Path) -> Any:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # endpoint, headers, timeout from OTEL_EXPORTER_OTLP_[TRACES_]*
    if name == "otlp_json_file":
        from opentelemetry.exporter.otlp.json.file import FileSpanExporter

        directory = var_dir / "traces"
        directory.mkdir(parents=True, exist_ok=True)
        return FileSpanExporter(directory / f"{service}-{os.getpid()}.jsonl")
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r}; otlp, otlp_json_file, console or none")


def _instrument() -> None:
    disabled = {n.strip() for n in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    os.environ.setdefault("OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS", QUIET_URLS)
    if "aiohttp-server" not in disabled and "aiohttp_server" not in disabled:
        from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor

        AioHttpServerInstrumentor().instrument()
    if "aiohttp-client" not in disabled and "aiohttp_client" not in disabled:
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

        AioHttpClientInstrumentor().instrument()
    if "asyncpg" not in disabled:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    if "aio-pika" not in disabled and "aio_pika" not in disabled:
        from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor

        AioPikaInstrumentor().instrument()


class _QuietRoots(Sampler):
    """The configured sampler, except for a CLIENT span without a parent: the polls of background loops (the outbox
    relay, job workers, LISTEN's health query, a JWKS refresh) would each be a trace, several times a second."""

    def __init__(self, sampler: Sampler) -> None:
        self._sampler = sampler

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: Any = None,
        links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind == trace.SpanKind.CLIENT and not trace.get_current_span(parent_context).get_span_context().is_valid:
            return SamplingResult(Decision.DROP)
        return self._sampler.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"QuietRoots{{{self._sampler.get_description()}}}"


class _Strings(Getter[Any]):
    """Only text values: a header that is bytes, a number or a table (anyone may publish one) is no context."""

    def __init__(self, getter: Getter[Any]) -> None:
        self._getter = getter

    def get(self, carrier: Any, key: str) -> list[str] | None:
        values = self._getter.get(carrier, key)
        texts = [v for v in values] if values else []
        return [v for v in texts if isinstance(v, str)] or None

    def keys(self, carrier: Any) -> list[str]:
        return self._getter.keys(carrier)


class LenientPropagator(TextMapPropagator):
    """The configured propagator, but a malformed context in a message or request is ignored, never an error: the
    W3C propagator raises on a `traceparent` that is not text, and aio-pika's instrumentation extracts before our
    consumer sees the message (which would then be neither handled nor parked)."""

    def __init__(self, inner: TextMapPropagator) -> None:
        self._inner = inner

    def extract(
        self, carrier: CarrierT, context: Context | None = None, getter: Getter[CarrierT] = default_getter
    ) -> Context:
        try:
            return self._inner.extract(carrier, context, _Strings(getter))
        except Exception:
            return context if context is not None else Context()

    def inject(self, carrier: CarrierT, context: Context | None = None, setter: Setter[CarrierT] | None = None) -> None:
        if setter is None:
            self._inner.inject(carrier, context)
        else:
            self._inner.inject(carrier, context, setter)

    @property
    def fields(self) -> set[str]:
        return self._inner.fields


# ---- the context where the instrumentations cannot see it -----------------------------------------------------


def trace_headers() -> Carrier:
    """The current span's context as W3C headers, to save with a row (an outbox row, a job, a contract); {} when off
    or outside any span."""
    if not ENABLED:
        return {}
    carrier: Carrier = {}
    propagate.inject(carrier)
    return carrier


def context_of(carrier: Mapping[str, Any] | None) -> Context | None:
    """The context saved in `carrier` (None when there is none, or it is malformed)."""
    if not ENABLED or not carrier:
        return None
    extracted = propagate.extract(carrier)
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


def current_context() -> Context | None:
    """This task's context (the span a callback runs in), kept for work done later in another task; None when off."""
    return otel_context.get_current() if ENABLED else None


def _tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


@contextlib.contextmanager
def attached(carrier: Mapping[str, Any] | None) -> Iterator[None]:
    """Run the block in the context saved in `carrier` (the outbox relay publishing a row: its publish span is the
    writer's child)."""
    parent = context_of(carrier)
    if parent is None:
        yield
        return
    token = otel_context.attach(parent)
    try:
        yield
    finally:
        otel_context.detach(token)


@contextlib.contextmanager
def span_in(parent: Context | None, name: str, attributes: Mapping[str, str | int] | None = None) -> Iterator[None]:
    """A span `name` whose parent is `parent` (a delivery's own context, whichever task handles it)."""
    with _tracer().start_as_current_span(name, context=parent, attributes=attributes):
        yield


@contextlib.contextmanager
def linked_root(
    name: str, carrier: Mapping[str, Any] | None, attributes: Mapping[str, str | int] | None = None
) -> Iterator[None]:
    """A span `name` starting a trace of its own, linked to the context saved in `carrier`: a deferred job's run,
    which may do the work of many requests (the processing day) or none, is no request's child."""
    links = _links([carrier])
    with _tracer().start_as_current_span(name, context=Context(), links=links, attributes=attributes):
        yield


def link_to(carriers: Sequence[Mapping[str, Any] | None]) -> None:
    """Link the current span to the contexts saved in `carriers`, the first MAX_LINKS of them."""
    if not ENABLED:
        return
    span = trace.get_current_span()
    if not span.is_recording():
        return
    for link in _links(carriers[:MAX_LINKS]):
        span.add_link(link.context)
    if len(carriers) > MAX_LINKS:
        span.set_attribute("its.links_left_out", len(carriers) - MAX_LINKS)


@contextlib.contextmanager
def continuing(name: str, carrier: Mapping[str, Any] | None) -> Iterator[None]:
    """A span `name` continuing the context saved in `carrier` (its child), linked to the current span: the part of
    a job's run done for one request (notifications' e-mail for the event that asked for it), in that request's
    trace, while the run has its own."""
    if not ENABLED:
        yield
        return
    here = trace.get_current_span().get_span_context()
    links = [trace.Link(here)] if here.is_valid else []
    with _tracer().start_as_current_span(name, context=context_of(carrier) or Context(), links=links):
        yield


def continued(name: str, carriers: Sequence[Mapping[str, Any] | None]) -> list[Carrier]:
    """`continuing` for each saved context, ended at once: the contexts of those spans, to save with what each item
    writes next (the processing day: each contract's events continue its POST's trace). `[{}, …]` when off."""
    if not ENABLED:
        return [{} for _ in carriers]
    carried = []
    for carrier in carriers:
        with continuing(name, carrier):
            carried.append(trace_headers())
    return carried


def _links(carriers: Sequence[Mapping[str, Any] | None]) -> list[trace.Link]:
    links = []
    for carrier in carriers:
        parent = context_of(carrier)
        if parent is not None:
            links.append(trace.Link(trace.get_current_span(parent).get_span_context()))
    return links


def log_trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor (installed only when tracing is on): `trace_id` and `span_id` of the recording span."""
    span = trace.get_current_span()
    if span.is_recording():
        ids = span.get_span_context()
        event["trace_id"] = format(ids.trace_id, "032x")
        event["span_id"] = format(ids.span_id, "016x")
    return event
