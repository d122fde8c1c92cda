"""`itsctl maintenance issue-codes`: activation codes of maintenance services, into a CSV file.

The codes are shown by contracts only once, in the answer that issues them (it keeps their hashes):
each batch's rows are appended to the file as soon as it arrives, and the file is readable by its
owner only (0600).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.markup import escape

from itsctl._common import console
from itsctl._csv import CsvBatches, check_out, create_out, run_export
from itsctl._http import Api, LoginOption, operator_credentials, operator_session

app = typer.Typer(help="Maintenance services: activation codes.", no_args_is_help=True)

COLUMNS = ("code", "category", "months", "batch_id")
MAX_BATCH = 10_000  # what one POST /v1/maintenance-services/codes may ask for


@dataclass
class IssuedCodes:
    """What has been issued and written so far (kept up to date while batches arrive)."""

    written: int = 0
    batches: list[str] = field(default_factory=list)
    requested: int = 0  # the size of the request in flight, if any


async def issue_codes(
    contracts: Api,
    category: int,
    months: int,
    count: int,
    *,
    batch: int,
    out: IO[str],
    issued: IssuedCodes | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> IssuedCodes:
    """Issue `count` codes in requests of at most `batch`, appending each answer's rows to `out` (CSV).

    The header is written first. `issued`, updated as rows are written, tells how far it got if this raises.
    """
    issued = issued if issued is not None else IssuedCodes()
    writer = CsvBatches(out, COLUMNS)
    while issued.written < count:
        size = min(batch, count - issued.written)
        issued.requested = size
        body = {"category": category, "months": months, "count": size}
        _, answer = await contracts.call("POST", "/v1/maintenance-services/codes", body)
        rows = _rows(answer)
        writer.write(rows)
        issued.requested = 0
        issued.written += len(rows)
        issued.batches.append(str(answer.get("batch_id", "")))
        if on_batch:
            on_batch(len(rows))
        if not rows:
            raise RuntimeError("the service issued no codes for a batch")
    return issued


def _rows(answer: Any) -> list[tuple[str, int, int, str]]:
    if not isinstance(answer, dict) or not isinstance(answer.get("codes"), list):
        raise RuntimeError(f"unexpected answer from contracts: {str(answer)[:200]}")
    batch_id = str(answer.get("batch_id", ""))
    return [(str(code), int(answer["category"]), int(answer["months"]), batch_id) for code in answer["codes"]]


@app.command("issue-codes")
def issue_codes_command(
    category: Annotated[
        int,
        typer.Option("--category", min=1, max=2, help="The maintenance service category, 1 or 2.", show_default=False),
    ],
    months: Annotated[
        int, typer.Option("--months", min=1, max=36, help="Whole months of service a code gives.", show_default=False)
    ],
    count: Annotated[int, typer.Option("--count", min=1, help="How many codes to issue.", show_default=False)],
    out: Annotated[
        Path, typer.Option("--out", help="The CSV file to write (created with mode 0600).", show_default=False)
    ],
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=MAX_BATCH, help="Codes per request to the service.")
    ] = 1_000,
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUT if it exists.")] = False,
    login: LoginOption = None,
) -> None:
    """Issue COUNT activation codes for a category and a number of months and write them to a CSV file.

    Columns: code, category, months, batch_id.

    The codes cannot be read again from the service: keep the file safe, delete it once printed.
    """
    check_out(out, force=force)
    credentials = operator_credentials(login)
    file = create_out(out, force=force)
    issued = IssuedCodes()

    async def go(advance: Callable[[int], None]) -> None:
        async with operator_session(credentials) as operator:
            await issue_codes(
                operator.api("contracts"),
                category,
                months,
                count,
                batch=batch,
                out=file,
                issued=issued,
                on_batch=advance,
            )

    run_export(go, file=file, out=out, count=count, what="codes", state=issued)
    console.print(
        f"{issued.written} activation codes of category {category} for {months} month{'s' if months != 1 else ''} "
        f"written to {escape(str(out))} ({len(issued.batches)} batch{'es' if len(issued.batches) != 1 else ''})"
    )
