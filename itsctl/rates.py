"""`itsctl rates import FILE…`: exchange rates files (the Bank of Russia's daily or dynamic XML, or CSV
`date,currency,nominal,value`) imported into updates (DAT-1), each whole or not at all; a report per file.

The format is the file's extension (.xml, .csv), else what it starts with. Exit 1 when a file was refused (the others
are imported all the same: each is its own import, and importing one again changes nothing).
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from itsctl._common import console, fail
from itsctl._http import (
    CALL_ERRORS,
    Api,
    LoginOption,
    ServiceError,
    error_message,
    operator_credentials,
    operator_session,
)

app = typer.Typer(help="Exchange rates in updates (DAT-1): import the bank's files.", no_args_is_help=True)

MEDIA_TYPES = {"xml": "application/xml", "csv": "text/csv"}


def file_format(path: Path, head: bytes) -> str:
    """xml or csv: by the extension, else by the first character that is not white space."""
    if path.suffix.lower() in (".xml", ".csv"):
        return path.suffix.lower()[1:]
    return "xml" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") else "csv"


async def import_file(api: Api, path: Path) -> dict[str, Any]:
    """The service's report of one file; ServiceError (with the problems found) when it was refused."""
    body = await asyncio.to_thread(path.read_bytes)
    return await import_body(api, body, file_format(path, body[:64]), path.name[:200])


async def import_body(api: Api, body: bytes, rates_format: str, source: str) -> dict[str, Any]:
    """The report of one file's bytes (the demo data imports its generated file through it)."""
    url = f"{api.base_url}/v1/rates/imports"
    headers = {**api.headers, "Content-Type": MEDIA_TYPES[rates_format]}
    params = {"format": rates_format, "source": source}
    async with api.http.post(url, data=io.BytesIO(body), headers=headers, params=params) as response:
        answer = await response.json(content_type=None)
        if response.status >= 400:
            raise ServiceError(api.service, "POST", url, response.status, answer)
        return dict(answer)


def report_line(path: Path, report: dict[str, Any]) -> str:
    return (
        f"{path}: {report['days']} day(s) {report['first_day']}..{report['last_day']}, "
        f"{report['currencies']} currenc{'y' if report['currencies'] == 1 else 'ies'}: "
        f"{report['rows_added']} added, {report['rows_corrected']} corrected, {report['rows_unchanged']} unchanged"
    )


def refusal_lines(path: Path, exc: ServiceError) -> list[str]:
    body = exc.body if isinstance(exc.body, dict) else {}
    problems = body.get("problems") or []
    if not problems:
        return [f"{path}: refused: {error_message(exc)}"]
    lines = [f"{path}: refused, nothing stored:"]
    lines += [f"  line {p['line']}: {p['message']}" if p.get("line") else f"  {p['message']}" for p in problems]
    if body.get("more"):
        lines.append(f"  … and {body['more']} more")
    return lines


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(metavar="FILE…", help="Rates files (.xml, .csv).", exists=True)],
    login: LoginOption = None,
) -> None:
    """Import each FILE (whole or not at all) and print its report; exit 1 if any was refused."""
    credentials = operator_credentials(login)

    async def go() -> bool:
        refused = False
        async with operator_session(credentials) as operator:
            api = operator.api("updates")
            for path in files:
                try:
                    console.print(escape(report_line(path, await import_file(api, path))))
                except ServiceError as exc:
                    if exc.status not in (413, 415, 422):
                        raise
                    refused = True
                    for line in refusal_lines(path, exc):
                        console.print(escape(line))
        return refused

    try:
        refused = asyncio.run(go())
    except CALL_ERRORS as exc:
        fail(escape(error_message(exc)))
    if refused:
        raise typer.Exit(1)
