"""The `itsctl` entry point: one typer app with a sub-app per command group.

A new group (catalogue, releases, registration, ...) is a module with its own
`app = typer.Typer(...)`, mounted below with `app.add_typer(...)`.
"""

from __future__ import annotations

import typer

from itsctl import (
    calendar,
    catalogue,
    clock,
    dlq,
    download,
    forms,
    identity,
    mail,
    maintenance,
    operator,
    rates,
    registration,
    releases,
    trace,
    tuf,
)

app = typer.Typer(
    name="itsctl",
    help="ITS Portal operator's command line. Settings come from ITS_* variables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.add_typer(clock.app, name="clock")
app.add_typer(mail.app, name="mail")
app.add_typer(operator.app, name="operator")
app.add_typer(identity.app, name="identity")
app.add_typer(catalogue.app, name="catalogue")
app.add_typer(registration.app, name="registration")
app.add_typer(maintenance.app, name="maintenance")
app.add_typer(calendar.app, name="calendar")
app.add_typer(releases.app, name="releases")
app.add_typer(forms.app, name="forms")
app.add_typer(dlq.app, name="dlq")
app.add_typer(trace.app, name="trace")
app.add_typer(tuf.app, name="tuf")
app.add_typer(rates.app, name="rates")
app.command("download")(download.download_command)


def main() -> None:
    app(prog_name="itsctl")
