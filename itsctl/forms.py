"""`itsctl forms`: publish a version of a regulated reporting form with its file into updates (DAT-2), list the
versions, withdraw one. Publishing: itsctl.form_publishing."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import typer
from rich.markup import escape
from rich.table import Table

from itsctl._common import console, fail
from itsctl._http import CALL_ERRORS, LoginOption, error_message, operator_credentials, operator_session, service_url
from itsctl.form_publishing import FormOutcome, FormToPublish, publish_form
from itsctl.releases import _progress

app = typer.Typer(
    help="Regulated reporting forms in updates: publish with their file, list, withdraw.", no_args_is_help=True
)

DAY = ["%Y-%m-%d"]


@app.command("publish")
def publish(
    code: Annotated[str, typer.Option(help="The form's code, e.g. the KND code 1151001.", show_default=False)],
    version: Annotated[str, typer.Option(help="The form's version, e.g. 5.01.", show_default=False)],
    file: Annotated[Path, typer.Option(help="The form's file (the package for the program).", show_default=False)],
    name: Annotated[str, typer.Option(help="The form's name.", show_default=False)],
    applies_from: Annotated[
        datetime, typer.Option(formats=DAY, help="The first day of the period it applies to.", show_default=False)
    ],
    basis_number: Annotated[str, typer.Option(help="The regulator's order that approved it.", show_default=False)],
    basis_date: Annotated[datetime, typer.Option(formats=DAY, help="The order's date.", show_default=False)],
    configuration: Annotated[
        list[str], typer.Option(help="A configuration it is for (repeat for more).", show_default=False)
    ],
    changes: Annotated[str, typer.Option(help="What changed (Markdown).")] = "",
    login: LoginOption = None,
) -> None:
    """Declare, upload and publish a version of a reporting form; safe to repeat."""
    form = FormToPublish(
        code=code,
        version=version,
        file=file,
        name=name,
        applies_from=applies_from.date(),
        configurations=tuple(configuration),
        basis_number=basis_number,
        basis_date=basis_date.date(),
        changes=changes,
    )
    credentials = operator_credentials(login)

    async def go() -> FormOutcome:
        async with operator_session(credentials) as operator:
            with _progress() as progress:
                return await publish_form(operator.api("updates"), form, progress=progress)

    try:
        outcome = asyncio.run(go())
    except FileNotFoundError as exc:
        fail(escape(str(exc)), code=2)
    except CALL_ERRORS as exc:
        fail(escape(error_message(exc) + "\nrunning again is safe"))
    console.print(f"{escape(outcome.line())} → {service_url('updates')}")
    if outcome.state == "withdrawn":
        fail("a withdrawn form version cannot be published again: give it a new version", code=1)


@app.command("list")
def list_(
    code: Annotated[str | None, typer.Option(help="Only this form's versions.")] = None,
    configuration: Annotated[str | None, typer.Option(help="Only the forms for this configuration.")] = None,
    state: Annotated[str | None, typer.Option(help="draft, published or withdrawn.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    login: LoginOption = None,
) -> None:
    """The reporting form versions in updates, in every state (by code, newest version first)."""
    query = {k: v for k, v in (("code", code), ("configuration", configuration), ("state", state)) if v}
    query["limit"] = str(limit)
    credentials = operator_credentials(login)

    async def go() -> Any:
        async with operator_session(credentials) as operator:
            _, answer = await operator.api("updates").call("GET", "/v1/forms?" + urlencode(query))
            return answer

    try:
        answer = asyncio.run(go())
    except CALL_ERRORS as exc:
        fail(escape(error_message(exc)))
    table = Table("form", "version", "name", "state", "applies from", "configurations", "id")
    for f in answer["items"]:
        table.add_row(
            escape(f["code"]),
            escape(f["version"]),
            escape(f["name"]),
            f["state"],
            f["applies_from"],
            escape(", ".join(f["configurations"])),
            f["id"],
        )
    console.print(table)


@app.command("withdraw")
def withdraw(
    form_id: Annotated[str, typer.Argument(help="The form version's id (see `itsctl forms list`).")],
    reason: Annotated[str, typer.Option(help="Why.", show_default=False)],
    login: LoginOption = None,
) -> None:
    """Withdraw a published form version: client programs are no longer sent it."""
    credentials = operator_credentials(login)

    async def go() -> Any:
        async with operator_session(credentials) as operator:
            _, answer = await operator.api("updates").call(
                "POST", f"/v1/form-versions/{quote(form_id, safe='')}/withdraw", {"reason": reason}
            )
            return answer

    try:
        answer = asyncio.run(go())
    except CALL_ERRORS as exc:
        fail(escape(error_message(exc)))
    console.print(f"form {escape(answer['code'])} {escape(answer['version'])}: {answer['state']}")
