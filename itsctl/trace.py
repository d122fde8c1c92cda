"""`itsctl trace`: the local stack's traces (shared/tracing.py writes them as OTLP JSON lines into `var/traces/`)
drawn as a waterfall in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from itsctl._common import console, fail
from itsctl._traces import last_trace, read_dir, trace_of, waterfall

app = typer.Typer(
    help="Show the traces the local stack writes (OTEL_TRACES_EXPORTER=otlp_json_file).", no_args_is_help=True
)

Dir = Annotated[Path, typer.Option("--dir", help="the directory of the span files (one per process)")]
DEFAULT_DIR = Path("var/traces")


def _show(directory: Path, trace_id: str) -> None:
    spans = read_dir(directory)
    found = trace_of(spans, trace_id)
    if not found:
        fail(f"no span of trace {trace_id} in {directory}")
    for line in waterfall(found, known=spans):
        console.print(line, markup=False, soft_wrap=True)


@app.command()
def show(trace_id: Annotated[str, typer.Argument(help="32 hex digits")], dir: Dir = DEFAULT_DIR) -> None:
    """Draw the trace: each span's start offset, duration, service and name (children indented), a bar, links."""
    if not dir.is_dir():
        fail(f"{dir} is not a directory: is tracing on (make run turns it on)?")
    _show(dir, trace_id)


@app.command()
def last(
    path: Annotated[str, typer.Option("--path", help="a route or path a service answered, e.g. /v1/contracts")],
    dir: Dir = DEFAULT_DIR,
) -> None:
    """Draw the newest trace whose server span answered PATH."""
    if not dir.is_dir():
        fail(f"{dir} is not a directory: is tracing on (make run turns it on)?")
    trace_id = last_trace(read_dir(dir), path)
    if trace_id is None:
        fail(f"no request to {path} in {dir}")
    _show(dir, trace_id)
