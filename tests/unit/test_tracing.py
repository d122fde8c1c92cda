"""shared/tracing.py's pure parts: when it is on, what is asked of the environment, the context saved as W3C headers
and continued from them, a malformed context ignored; and itsctl's waterfall of a trace (itsctl/_traces.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from itsctl._traces import last_trace, read_dir, read_spans, trace_of, waterfall
from shared import tracing

_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process as configure_tracing leaves it, without instrumenting the libraries (which would
    stay for every later test): an SDK provider and the lenient propagator."""
    monkeypatch.setattr(tracing, "ENABLED", True)
    monkeypatch.setattr(tracing, "_tracer", lambda: _PROVIDER.get_tracer("test"))
    original = propagate.get_global_textmap()
    propagate.set_global_textmap(tracing.LenientPropagator(original))
    _EXPORTER.clear()
    try:
        yield _EXPORTER
    finally:
        propagate.set_global_textmap(original)


def finished(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    [span] = [s for s in exporter.get_finished_spans() if s.name == name]
    return span


@pytest.mark.parametrize(
    ("environment", "exporters"),
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "otlp_json_file"}, ["otlp_json_file"]),
        ({"OTEL_TRACES_EXPORTER": "otlp, otlp_json_file"}, ["otlp", "otlp_json_file"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp_json_file", "OTEL_SDK_DISABLED": "true"}, []),
    ],
)
def test_tracing_is_on_only_where_the_environment_asks(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], exporters: list[str]
) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert tracing.exporters_asked() == exporters


def test_off_nothing_is_saved_or_started() -> None:
    assert not tracing.ENABLED  # no test process turns it on
    assert tracing.trace_headers() == {}
    assert tracing.context_of({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}) is None
    assert tracing.current_context() is None
    assert tracing.continued("activate contract", [None, None]) == [{}, {}]


def test_the_current_span_is_saved_as_a_traceparent_and_continued_from_it(traced: InMemorySpanExporter) -> None:
    assert tracing.trace_headers() == {}  # outside any span: nothing to save
    with tracing.linked_root("POST /v1/contracts", None):
        saved = tracing.trace_headers()
    post = finished(traced, "POST /v1/contracts")
    _, trace_id, span_id, _ = saved["traceparent"].split("-")
    assert (trace_id, span_id) == (f"{post.context.trace_id:032x}", f"{post.context.span_id:016x}")

    with tracing.attached(saved):  # the relay publishing the row in its writer's context
        assert trace.get_current_span().get_span_context().span_id == post.context.span_id
    with tracing.span_in(tracing.context_of(saved), "handle contracts.contract.received"):
        pass
    handle = finished(traced, "handle contracts.contract.received")
    assert handle.parent is not None and handle.parent.span_id == post.context.span_id
    assert handle.context.trace_id == post.context.trace_id


def test_a_job_run_is_a_trace_of_its_own_linked_to_what_scheduled_it_and_continues_each_item(
    traced: InMemorySpanExporter,
) -> None:
    intakes = []
    for n in range(3):
        with tracing.linked_root(f"POST {n}", None):
            intakes.append(tracing.trace_headers())
    with tracing.linked_root("job contracts.process", intakes[0]):
        tracing.link_to([*intakes, None])  # a contract posted while tracing was off has none
        carried = tracing.continued("activate contract", intakes)
    run = finished(traced, "job contracts.process")
    posts = [finished(traced, f"POST {n}") for n in range(3)]
    assert run.parent is None and run.context.trace_id not in {p.context.trace_id for p in posts}
    assert [link.context.span_id for link in run.links] == [p.context.span_id for p in [posts[0], *posts]]

    activations = [s for s in traced.get_finished_spans() if s.name == "activate contract"]
    assert [a.parent.span_id for a in activations if a.parent] == [p.context.span_id for p in posts]
    assert all([link.context.span_id for link in a.links] == [run.context.span_id] for a in activations)
    assert [c["traceparent"].split("-")[2] for c in carried] == [f"{a.context.span_id:016x}" for a in activations]


def test_links_are_capped(traced: InMemorySpanExporter) -> None:
    intakes = []
    for n in range(tracing.MAX_LINKS + 5):
        with tracing.linked_root(f"POST {n}", None):
            intakes.append(tracing.trace_headers())
    with tracing.linked_root("job contracts.process", None):
        tracing.link_to(intakes)
    run = finished(traced, "job contracts.process")
    assert len(run.links) == tracing.MAX_LINKS
    assert run.attributes is not None and run.attributes["its.links_left_out"] == 5


@pytest.mark.parametrize(
    "value",
    [5, b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "garbage", ["x"], {"a": 1}, "00-" + "0" * 50],
)
def test_a_malformed_traceparent_is_ignored_never_an_error(traced: InMemorySpanExporter, value: object) -> None:
    """What aio-pika's instrumentation extracts from any message before our consumer sees it."""
    context = propagate.extract({"traceparent": value, "tracestate": value})
    assert not trace.get_current_span(context).get_span_context().is_valid
    assert tracing.context_of({"traceparent": value}) is None


# ---- itsctl trace ---------------------------------------------------------------------------------------------

T1, T2 = "1" * 32, "2" * 32
HANDLE = "handle contracts.contract.activated"


def _line(service: str, *spans: dict[str, object]) -> str:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": list(spans)}]}]})


def _span(trace_id: str, span_id: str, name: str, start_ms: int, end_ms: int, **extra: object) -> dict[str, object]:
    base = 1_800_000_000_000_000_000
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(base + start_ms * 1_000_000),
        "endTimeUnixNano": str(base + end_ms * 1_000_000),
        **extra,
    }


def _files(directory: Path) -> Path:
    route = [{"key": "http.route", "value": {"stringValue": "/v1/contracts"}}]
    (directory / "contracts-1.jsonl").write_text(
        _line(
            "contracts",
            _span(T1, "a" * 16, "POST /v1/contracts", 0, 100, kind=2, attributes=route),
            _span(
                T1,
                "b" * 16,
                "activate contract",
                50,
                60,
                parentSpanId="a" * 16,
                links=[{"traceId": T2, "spanId": "c" * 16}],
            ),
        )
        + "\n"
        + _line("contracts", _span(T2, "c" * 16, "job contracts.process", 40, 80))
        + "\n"
        + '{"resourceSpans": [{"half a li'  # a file being written
    )
    (directory / "notifications-2.jsonl").write_text(
        _line("notifications", _span(T1, "d" * 16, HANDLE, 70, 90, parentSpanId="b" * 16))
        + "\n"
        + _line("notifications", _span("3" * 32, "e" * 16, "POST /v1/contracts", 200, 210, kind=2, attributes=route))
    )
    return directory


def test_a_trace_is_drawn_as_a_waterfall_children_indented_links_named(tmp_path: Path) -> None:
    spans = read_dir(_files(tmp_path))
    assert len(spans) == 5
    drawn = waterfall(trace_of(spans, T1), known=spans)
    assert drawn[0] == f"trace {T1}: 3 spans, 100.0 ms"
    post, activate, link, handle = drawn[1:]
    assert post.split()[:5] == ["0.0", "ms", "100.0", "ms", "contracts"]
    assert post.endswith("|  POST /v1/contracts [server]") and "|" + "█" * 30 + "|" in post
    assert activate.endswith("|    activate contract") and "50.0 ms" in activate and "10.0 ms" in activate
    assert activate.split("|")[1] == " " * 15 + "███" + " " * 12  # from half way, a tenth of the trace
    assert link.strip() == f"↪ link {T2}/{'c' * 16} (contracts: job contracts.process)"
    assert handle.endswith("|      handle contracts.contract.activated") and "notifications" in handle


def test_a_span_whose_parent_is_not_written_is_drawn_as_a_root_and_an_unknown_link_said_so() -> None:
    [orphan] = read_spans(
        [
            _line(
                "updates",
                _span(T1, "f" * 16, "orphan", 0, 1, parentSpanId="9" * 16, links=[{"traceId": T2, "spanId": "8" * 16}]),
            )
        ]
    )
    drawn = waterfall([orphan])
    assert drawn[1].endswith("|  orphan") and "not in these files" in drawn[2]
    assert waterfall([]) == []


def test_the_last_trace_of_a_path_is_the_newest_server_span_answering_it(tmp_path: Path) -> None:
    spans = read_dir(_files(tmp_path))
    assert last_trace(spans, "/v1/contracts") == "3" * 32
    assert last_trace(spans, "/v1/other") is None
    assert last_trace([s for s in spans if s.trace_id != "3" * 32], "/v1/contracts") == T1
