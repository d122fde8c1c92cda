"""`itsctl identity republish`: identity's directory announced again, for read models built later."""

from __future__ import annotations

import asyncio

import typer

from itsctl._common import console, fail

app = typer.Typer(help="Identity's accounts, subscribers and partners.", no_args_is_help=True)


@app.command()
def republish() -> None:
    """Announce identity's accounts, subscribers, partners and their staff again (for a service added later).

    A service that keeps a read model of identity (registration, say) learns of accounts made before it
    first started. Consumers handle the events idempotently: running this twice is harmless.
    """
    from services.identity.public import IdentitySettings, republish_directory

    try:
        counts = asyncio.run(republish_directory(IdentitySettings()))
    except OSError as exc:
        fail(f"cannot reach the database: {exc}")
    console.print(
        f"announced again: {counts.accounts} accounts, {counts.subscribers} subscribers, {counts.partners} partners, "
        f"{counts.staff} partners' staff members"
    )
