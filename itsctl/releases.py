"""`itsctl releases`: publish a manifest of configuration and platform releases with their kits into updates,
list the releases, withdraw one.

The manifest's format and its checks: itsctl.release_manifest; declaring, uploading and publishing:
itsctl.release_publishing (demo data publishes through it too).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from itsctl._common import console, fail
from itsctl._http import CALL_ERRORS, LoginOption, error_message, operator_credentials, operator_session, service_url
from itsctl.release_manifest import ManifestError, load_manifest
from itsctl.release_publishing import Outcome, Summary, publish_manifest

app = typer.Typer(help="Releases and their kits in updates: publish from a manifest, list.", no_args_is_help=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=False,
    )


@app.command("publish")
def publish(
    manifest_file: Annotated[
        Path, typer.Argument(metavar="MANIFEST", help="A .yaml/.yml or .json release manifest.", show_default=False)
    ],
    login: LoginOption = None,
) -> None:
    """Declare, upload and publish the releases of MANIFEST (and its articles); safe to repeat."""
    try:
        manifest = load_manifest(manifest_file)
    except ManifestError as exc:
        fail(escape(str(exc)), code=2)
    credentials = operator_credentials(login)
    done: list[Outcome] = []

    async def go() -> Summary:
        async with operator_session(credentials) as operator:
            with _progress() as progress:
                return await publish_manifest(
                    operator.api("updates"), manifest, progress=progress, on_release=done.append
                )

    try:
        summary = asyncio.run(go())
    except ManifestError as exc:
        fail(escape(str(exc)), code=2)
    except CALL_ERRORS as exc:
        message = error_message(exc)
        if done:
            message += f"\n{len(done)} release(s) were done before it; running again is safe"
        fail(escape(message))
    for outcome in summary.releases:
        console.print(escape(outcome.line()))
    console.print(f"{escape(str(manifest_file))} → {service_url('updates')}: {escape(summary.line())}")
    if any(o.state == "withdrawn" for o in summary.releases):
        fail("a withdrawn release cannot be published again: give it a new version", code=1)


@app.command("list")
def list_(
    configuration: Annotated[str | None, typer.Option(help="Only this configuration's releases.")] = None,
    kind: Annotated[str | None, typer.Option(help="configuration or platform.")] = None,
    state: Annotated[str | None, typer.Option(help="draft, published or withdrawn.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    login: LoginOption = None,
) -> None:
    """The releases in updates, in every state (platform first, then by configuration, newest first)."""
    query = {k: v for k, v in (("configuration", configuration), ("kind", kind), ("state", state)) if v}
    query["limit"] = str(limit)
    credentials = operator_credentials(login)

    async def go() -> Any:
        async with operator_session(credentials) as operator:
            _, answer = await operator.api("updates").call("GET", "/v1/releases?" + urlencode(query))
            return answer

    try:
        answer = asyncio.run(go())
    except CALL_ERRORS as exc:
        fail(escape(error_message(exc)))
    table = Table("release", "version", "state", "date", "kits", "published", "id")
    for r in answer["items"]:
        uploaded = sum(1 for k in r["kits"] if k["uploaded"])
        table.add_row(
            escape(r["configuration"] or f"platform ({r['grade']})"),
            escape(r["version"] + (" (pre)" if r["prerelease"] else "")),
            r["state"],
            r["release_date"],
            f"{uploaded}/{len(r['kits'])}",
            (r["published_at"] or "")[:19],
            r["id"],
        )
    console.print(table)


@app.command("withdraw")
def withdraw(
    release_id: Annotated[str, typer.Argument(help="The release's id (see `itsctl releases list`).")],
    reason: Annotated[str, typer.Option(help="Why: told to the subscribers' owners.", show_default=False)],
    login: LoginOption = None,
) -> None:
    """Withdraw a published release: its pages answer 410 and update plans avoid it."""
    credentials = operator_credentials(login)

    async def go() -> Any:
        async with operator_session(credentials) as operator:
            _, answer = await operator.api("updates").call(
                "POST", f"/v1/releases/{quote(release_id, safe='')}/withdraw", {"reason": reason}
            )
            return answer

    try:
        answer = asyncio.run(go())
    except CALL_ERRORS as exc:
        fail(escape(error_message(exc)))
    console.print(f"{escape(answer['configuration'] or 'platform')} {escape(answer['version'])}: {answer['state']}")
