"""`itsctl registration issue`: registration numbers (and PINs) for a product, into a CSV file.

The PINs are shown by the service only once: each batch's rows are appended to the file as soon as they
arrive, and the file is readable by its owner only (0600). A batch of up to 1,000 comes in the answer that
issues it; a larger one is accepted (202) and issued by the service in the background: the command follows
its progress, then fetches its numbers and PINs, once, with the key the acceptance gave.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.markup import escape

from itsctl._common import console, fail
from itsctl._csv import CsvBatches, check_out, create_out, run_export
from itsctl._http import Api, LoginOption, operator_credentials, operator_session
from services.registration.public import is_ean13

app = typer.Typer(help="Registration numbers and PINs.", no_args_is_help=True)

COLUMNS = ("registration_number", "pin", "article", "product_name", "edition")
MAX_BATCH = 100_000  # what one POST /v1/products/{article}/registration-numbers may ask for
POLL_SECONDS = 0.5  # how often a deferred batch's progress is asked for
STALL_SECONDS = 300.0  # a deferred batch that makes no progress for this long is given up


@dataclass
class Issued:
    """What has been issued and written so far (kept up to date while batches arrive)."""

    written: int = 0
    batches: list[str] = field(default_factory=list)
    product_name: str = ""
    edition: str = ""
    requested: int = 0  # the size of the request in flight, if any
    with_pins: bool = False  # whether the numbers came with PINs


async def issue_numbers(
    registration: Api,
    article: str,
    count: int,
    *,
    with_pin: bool | None,
    batch: int,
    out: IO[str],
    issued: Issued | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Issued:
    """Issue `count` numbers in requests of at most `batch`, appending each answer's rows to `out` (CSV).

    `with_pin` None: as the product is delivered. The header is written first. `issued`, updated as rows
    are written, tells how far it got if this raises.
    """
    issued = issued if issued is not None else Issued()
    writer = CsvBatches(out, COLUMNS)
    advance = on_batch or (lambda _: None)
    while issued.written < count:
        size = min(batch, count - issued.written)
        issued.requested = size
        body: dict[str, Any] = {"count": size} if with_pin is None else {"count": size, "with_pin": with_pin}
        status, answer = await registration.call("POST", f"/v1/products/{article}/registration-numbers", body)
        deferred = status == 202  # the progress bar follows the batch as the service issues it
        if deferred:
            answer = await _deferred(registration, answer, advance)
        rows = _rows(answer, article)
        issued.with_pins = issued.with_pins or any(row[1] for row in rows)
        writer.write(rows)
        issued.requested = 0
        issued.written += len(rows)
        issued.batches.append(str(answer.get("batch_id", "")))
        issued.product_name, issued.edition = str(answer.get("product_name", "")), str(answer.get("edition", ""))
        if not deferred:
            advance(len(rows))
        if not rows:
            raise RuntimeError("the service issued no numbers for a batch")
    return issued


async def _deferred(registration: Api, accepted: Any, advance: Callable[[int], None]) -> Any:
    """A batch the service issues in the background: its progress, then its numbers and PINs, once."""
    if not isinstance(accepted, dict) or not isinstance(accepted.get("url"), str) or "key" not in accepted:
        raise RuntimeError(f"unexpected answer from registration: {str(accepted)[:200]}")
    url, shown, progressed_at = accepted["url"], 0, time.monotonic()
    while True:
        _, batch = await registration.call("GET", url)
        if batch["issued"] > shown:
            advance(batch["issued"] - shown)
            shown, progressed_at = batch["issued"], time.monotonic()
        if batch["state"] == "done":
            break
        if batch["state"] != "issuing":
            raise RuntimeError(f"the batch {url} is {batch['state']}: its PINs cannot be shown")
        if time.monotonic() - progressed_at > STALL_SECONDS:
            raise RuntimeError(f"the batch {url} made no progress for {STALL_SECONDS:.0f} s ({shown} issued)")
        await asyncio.sleep(POLL_SECONDS)
    _, answer = await registration.call("POST", f"{url}/delivery", {"key": accepted["key"]})
    return answer


def _rows(answer: Any, article: str) -> list[tuple[str, str, str, str, str]]:
    if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
        raise RuntimeError(f"unexpected answer from registration: {str(answer)[:200]}")
    article = str(answer.get("article") or article)
    name, edition = str(answer.get("product_name", "")), str(answer.get("edition", ""))
    return [(item["registration_number"], item.get("pin") or "", article, name, edition) for item in answer["items"]]


@app.command()
def issue(
    article: Annotated[str, typer.Option("--article", help="The product's article (EAN-13).", show_default=False)],
    count: Annotated[int, typer.Option("--count", min=1, help="How many numbers to issue.", show_default=False)],
    out: Annotated[
        Path, typer.Option("--out", help="The CSV file to write (created with mode 0600).", show_default=False)
    ],
    with_pin: Annotated[
        bool | None,
        typer.Option(
            "--with-pin/--no-pin",
            help="Give every number a PIN, or not. Default: as the product is delivered (its pin_envelope).",
            show_default=False,
        ),
    ] = None,
    batch: Annotated[
        int,
        typer.Option(
            "--batch",
            min=1,
            max=MAX_BATCH,
            help="Numbers per request to the service (more than 1,000 it issues in the background).",
        ),
    ] = 10_000,
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUT if it exists.")] = False,
    login: LoginOption = None,
) -> None:
    """Issue COUNT registration numbers for a product and write them (with their PINs) to a CSV file.

    Columns: registration_number, pin, article, product_name, edition.

    The PINs cannot be read again from the service: keep the file safe, delete it once printed.
    """
    article = article.strip()
    if not is_ean13(article):
        fail(f"--article {escape(article)}: not an EAN-13 code (13 digits, the last a check digit)", code=2)
    check_out(out, force=force)
    credentials = operator_credentials(login)
    file = create_out(out, force=force)
    issued = Issued()

    async def go(advance: Callable[[int], None]) -> None:
        async with operator_session(credentials) as operator:
            await issue_numbers(
                operator.api("registration"),
                article,
                count,
                with_pin=with_pin,
                batch=batch,
                out=file,
                issued=issued,
                on_batch=advance,
            )

    run_export(go, file=file, out=out, count=count, what="numbers", state=issued)
    pins = "with PINs" if issued.with_pins else "without PINs"
    console.print(
        f"{issued.written} registration numbers {pins} for {escape(article)} {escape(issued.product_name)} "
        f"({escape(issued.edition)}) written to {escape(str(out))} "
        f"({len(issued.batches)} batch{'es' if len(issued.batches) != 1 else ''})"
    )


@app.command()
def republish() -> None:
    """Announce registration's catalogue, issued numbers and registered products again.

    For a service that keeps a read model of registration (contracts, say) and started after numbers were
    issued. Consumers handle the events idempotently: running this twice is harmless.
    """
    from services.registration.public import RegistrationSettings, republish_registration

    try:
        counts = asyncio.run(republish_registration(RegistrationSettings()))
    except OSError as exc:
        fail(f"cannot reach the database: {exc}")
    console.print(
        f"announced again: {counts.configurations} configurations, {counts.products} products, "
        f"{counts.numbers} numbers, {counts.registrations} registrations"
    )
