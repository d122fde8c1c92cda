"""The spans the local stack writes (OTLP JSON lines, one file per process in `var/traces/`, shared/tracing.py) read
back, and a trace drawn as a waterfall: pure, for `itsctl trace` and its tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# OTLP's span kinds, by number.
KINDS = {0: "", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
SERVER = 2
SHOWN_KINDS = (2, 3, 4, 5)  # an internal span says nothing of its kind
BAR_WIDTH = 30


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()  # (trace id, span id)

    @property
    def duration_ns(self) -> int:
        return max(self.end_ns - self.start_ns, 0)


def read_spans(lines: Iterable[str]) -> Iterator[Span]:
    """The spans of OTLP JSON lines (each a `resourceSpans` document); a line that is not one is skipped (a file
    being written ends with half a line)."""
    for line in lines:
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict):
            continue
        for resource_spans in document.get("resourceSpans", []):
            resource = _attributes(resource_spans.get("resource", {}).get("attributes", []))
            service = str(resource.get("service.name", "?"))
            for scope_spans in resource_spans.get("scopeSpans", []):
                for raw in scope_spans.get("spans", []):
                    yield _span(raw, service)


def _span(raw: dict[str, Any], service: str) -> Span:
    return Span(
        trace_id=raw["traceId"],
        span_id=raw["spanId"],
        parent_id=raw.get("parentSpanId") or None,
        service=service,
        name=raw.get("name", ""),
        kind=int(raw.get("kind", 0)),
        start_ns=int(raw.get("startTimeUnixNano", 0)),
        end_ns=int(raw.get("endTimeUnixNano", 0)),
        attributes=_attributes(raw.get("attributes", [])),
        links=tuple((link["traceId"], link["spanId"]) for link in raw.get("links", [])),
    )


def _attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    """OTLP's `[{"key": k, "value": {"stringValue": v}}]` as {k: v}."""
    found: dict[str, Any] = {}
    for item in items:
        value = item.get("value", {})
        found[item["key"]] = next(iter(value.values()), None) if value else None
    return found


def read_dir(directory: Path) -> list[Span]:
    """Every span in the `*.jsonl` files of `directory`."""
    spans: list[Span] = []
    for path in sorted(directory.glob("*.jsonl")):
        with path.open(encoding="utf-8", errors="replace") as lines:
            spans.extend(read_spans(lines))
    return spans


def trace_of(spans: Iterable[Span], trace_id: str) -> list[Span]:
    return [s for s in spans if s.trace_id == trace_id.lower()]


def served_path(span: Span) -> str | None:
    """The route or path a server span answered."""
    for key in ("http.route", "url.path", "http.target"):
        value = span.attributes.get(key)
        if isinstance(value, str) and value:
            return value.split("?", 1)[0]
    _, _, path = span.name.partition(" ")
    return path or None


def last_trace(spans: Iterable[Span], path: str) -> str | None:
    """The trace id of the newest server span that answered `path` (its route, e.g. `/v1/contracts/{id}`, or the
    path itself)."""
    newest: Span | None = None
    for span in spans:
        if span.kind == SERVER and served_path(span) == path and (newest is None or span.start_ns > newest.start_ns):
            newest = span
    return newest.trace_id if newest is not None else None


def waterfall(spans: list[Span], known: Iterable[Span] = (), width: int = BAR_WIDTH) -> list[str]:
    """The trace's spans as lines: start offset and duration (ms), service, the name indented under its parent, and
    a bar on the trace's time scale; each link below its span, named when `known` has the linked span. A span whose
    parent is not among them (not written yet, or another trace's) is drawn as a root."""
    if not spans:
        return []
    by_id = {s.span_id: s for s in spans}
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in by_id else None
        children.setdefault(parent, []).append(span)
    for siblings in children.values():
        siblings.sort(key=lambda s: (s.start_ns, s.name))
    begin = min(s.start_ns for s in spans)
    total = max(max(s.end_ns for s in spans) - begin, 1)
    names = {s.span_id: s for s in known}
    names.update(by_id)
    service_width = max(len(s.service) for s in spans)
    lines = [f"trace {spans[0].trace_id}: {len(spans)} spans, {_ms(total)}"]

    def draw(span: Span, depth: int) -> None:
        offset = span.start_ns - begin
        first = int(offset * width / total)
        length = max(1, round(span.duration_ns * width / total))
        bar = " " * min(first, width - 1) + "█" * min(length, width - min(first, width - 1))
        kind = f" [{KINDS[span.kind]}]" if span.kind in SHOWN_KINDS else ""
        lines.append(
            f"{_ms(offset):>12} {_ms(span.duration_ns):>11}  {span.service:<{service_width}}  "
            f"|{bar:<{width}}|  {'  ' * depth}{span.name}{kind}"
        )
        for trace_id, span_id in span.links:
            linked = names.get(span_id)
            what = f"{linked.service}: {linked.name}" if linked is not None else "not in these files"
            lines.append(
                f"{'':>12} {'':>11}  {'':<{service_width}}  {'':{width + 2}}  {'  ' * depth}  ↪ link "
                f"{trace_id}/{span_id} ({what})"
            )
        for child in children.get(span.span_id, []):
            draw(child, depth + 1)

    for root in children.get(None, []):
        draw(root, 0)
    return lines


def _ms(nanoseconds: int) -> str:
    return f"{nanoseconds / 1e6:,.1f} ms"
