"""`its-client`: the command an installed program (or a person at its side) runs against ITS Portal.

    its-client login --username ivan                     # ACC-3: the password is asked for, hidden
    its-client products                                  # the registration numbers and configurations
    its-client status -n 80012345678 -c Accounting       # MON-1
    its-client plan -c Accounting -v 3.0.40.10 -p 8.3.24.1342
    its-client update -c Accounting -v 3.0.40.10 -p 8.3.24.1342 --to updates/
    its-client ask -n 80012345678 -c Accounting -v 3.0.40.10 -p 8.3.24.1342 -s "VAT return" -b "It stops." \\
        --attach error.png                               # SUP-1
    its-client rates USD EUR --since 2026-12-01          # DAT-1: the days after the last one the program has
    its-client forms -c Accounting --held 1151001=5.01 --to forms/   # DAT-2: newer reporting forms
    its-client logout

Every command takes `--json` (one JSON document on stdout, for programs). Exit codes: see `cli_run.py`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn

from its_client import cli_text
from its_client.cli_run import USAGE, Options, emit, err_console, run, say
from its_client.client import DEFAULT_URL
from its_client.models import Kit
from its_client.system import this_arch, this_os
from its_client.updating import FetchedKit, KitProgress, UpdateResult
from its_client.version import VERSION

app = typer.Typer(
    name="its-client",
    help="ITS Portal for installed programs: log in, support status, update plans, verified updates, questions.",
    epilog="Exit codes: 0 done, 1 refused or failed, 2 usage, 3 not logged in, 4 no connection, 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # never a traceback with its local variables (a password, a token) on screen
    rich_markup_mode=None,
)

THIS_OS, THIS_ARCH = this_os(), this_arch()  # the platform kits an update fetches: this machine's
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document (for programs) instead of text.")]
Number = Annotated[str, typer.Option("--registration-number", "-n", help="The product's registration number.")]
Configuration = Annotated[str, typer.Option("--configuration", "-c", help="The configuration's code, e.g. Accounting.")]
Version = Annotated[str, typer.Option("--version", "-v", help="The configuration's installed version.")]
Platform = Annotated[str, typer.Option("--platform", "-p", help="The installed platform's version.")]
Os = Annotated[
    str,
    typer.Option("--os", help="The system whose platform kits to fetch: linux, windows, macos."),
]
Arch = Annotated[str, typer.Option("--arch", help="Its architecture: x86_64, aarch64.")]
Target = Annotated[str | None, typer.Option("--target", help="A version to go to instead of the newest.")]
Prerelease = Annotated[bool, typer.Option("--prerelease", help="Allow pre-releases in the chain.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"its-client {VERSION}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option("--url", envvar="ITS_CLIENT_URL", help="The system's public address (its gateway).")
    ] = DEFAULT_URL,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            envvar="ITS_CLIENT_CA_FILE",
            exists=True,
            dir_okay=False,
            help="A CA certificate to trust (the local stack's: var/gateway/tls/cert.pem).",
            show_default=False,
        ),
    ] = None,
    config_dir: Annotated[
        Path | None,
        typer.Option(
            "--config-dir",
            envvar="ITS_CLIENT_CONFIG_DIR",
            file_okay=False,
            help="Where the login is kept (default: the user's config directory, its-client/).",
            show_default=False,
        ),
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            envvar="ITS_CLIENT_ROOT",
            exists=True,
            dir_okay=False,
            help="The system's root of signed update metadata (root.json, shipped with the program); needed by the "
            "first update, then kept and followed through rotations (the local stack's: var/tuf/metadata/1.root.json).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """The global options, for every command."""
    ctx.obj = Options(url.rstrip("/"), ca_file, config_dir, root)


# ---- ACC-3 ------------------------------------------------------------------------------------------


@app.command()
def login(
    ctx: typer.Context,
    username: Annotated[str, typer.Option("--username", "-u", help="Your portal login.")],
    password: Annotated[
        str | None,
        typer.Option("--password", help="Your password (asked for, hidden, when left out).", show_default=False),
    ] = None,
    subscriber: Annotated[
        str | None,
        typer.Option("--subscriber", help="Act for this subscriber (CL-...) of yours.", show_default=False),
    ] = None,
    as_json: Json = False,
) -> None:
    """Log in with your portal login and password; the login is kept for the next commands (ACC-3)."""
    options: Options = ctx.obj
    secret = password if password is not None else typer.prompt("Password", hide_input=True)
    account = run(
        options, as_json, lambda client: client.login(username, secret, subscriber=subscriber), logging_in=True
    )
    if as_json:
        emit({"url": options.url, "account": account.__dict__, "name": account.name})
    else:
        say([f"Connected as {escape(account.name)}"])


@app.command()
def whoami(ctx: typer.Context, as_json: Json = False) -> None:
    """The account logged in (ACC-3)."""
    options: Options = ctx.obj
    account = run(options, as_json, lambda client: client.me())
    if as_json:
        emit({"url": options.url, "account": account.__dict__, "name": account.name})
    else:
        say([f"Connected as {escape(account.name)}"])


@app.command()
def logout(ctx: typer.Context, as_json: Json = False) -> None:
    """End the login at the portal (the kept token stops working) and forget it here."""
    options: Options = ctx.obj
    was = run(options, as_json, lambda client: client.logout())
    if as_json:
        emit({"url": options.url, "logged_out": was})
    else:
        say([f"Logged out of {escape(options.url)}" if was else f"Not logged in to {escape(options.url)}"])


@app.command()
def products(ctx: typer.Context, as_json: Json = False) -> None:
    """Your subscriber's registered products: their registration numbers and configurations."""
    options: Options = ctx.obj
    registered = run(options, as_json, lambda client: client.products())
    if as_json:
        emit([product.__dict__ for product in registered])
    else:
        say(cli_text.products(registered))


# ---- MON-1 ------------------------------------------------------------------------------------------


@app.command()
def status(ctx: typer.Context, number: Number, configuration: Configuration, as_json: Json = False) -> None:
    """Is this product supported? One status per condition, the dates and the partner to contact (MON-1)."""
    options: Options = ctx.obj
    answer = run(options, as_json, lambda client: client.support_status(number, configuration))
    if as_json:
        emit(answer.raw)
    else:
        say(cli_text.support_status(answer, number, configuration))


# ---- UPD-5 ------------------------------------------------------------------------------------------


@app.command()
def plan(
    ctx: typer.Context,
    configuration: Configuration,
    version: Version,
    platform: Platform,
    os: Os = THIS_OS,
    arch: Arch = THIS_ARCH,
    target: Target = None,
    prerelease: Prerelease = False,
    as_json: Json = False,
) -> None:
    """What to install: the shortest chain of releases to the newest, the platform it needs (UPD-5)."""
    options: Options = ctx.obj
    answer = run(
        options,
        as_json,
        lambda client: client.plan(configuration, version, platform, os, arch, target, allow_prerelease=prerelease),
    )
    if as_json:
        emit(answer.raw)
    else:
        say(cli_text.plan(answer))
        if answer.steps and answer.download.allowed:
            say([f"Next: its-client update -c {configuration} -v {version} -p {platform} --to DIRECTORY"])


@app.command()
def update(
    ctx: typer.Context,
    configuration: Configuration,
    version: Version,
    platform: Platform,
    to: Annotated[Path, typer.Option("--to", file_okay=False, help="The directory to download the kits into.")],
    os: Os = THIS_OS,
    arch: Arch = THIS_ARCH,
    target: Target = None,
    prerelease: Prerelease = False,
    full: Annotated[bool, typer.Option("--with-full-kits", help="Also the full kits (new installations).")] = False,
    as_json: Json = False,
) -> None:
    """Download every kit the plan says to install, verified against the signed update metadata (TUF), resuming where
    an earlier run stopped."""
    options: Options = ctx.obj
    bars, progressed = _progress_bars(enabled=not as_json)
    with bars:
        result = run(
            options,
            as_json,
            lambda client: client.update(
                configuration,
                version,
                platform,
                to,
                os=os,
                arch=arch,
                target=target,
                allow_prerelease=prerelease,
                include_full=full,
                progress=progressed,
            ),
        )
    if as_json:
        emit(_update_document(result, to))
    else:
        say(cli_text.update(result, str(to)))


def _progress_bars(*, enabled: bool) -> tuple[Progress, KitProgress]:
    """A bar per kit on stderr (only on a terminal), and the callback that moves them."""
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err_console,
        disable=not (enabled and err_console.is_terminal),
    )
    tasks: dict[str, TaskID] = {}

    def progressed(kit: Kit, done: int, total: int | None) -> None:
        if kit.id not in tasks:
            tasks[kit.id] = bars.add_task(escape(kit.name), total=total or kit.size)
        bars.update(tasks[kit.id], completed=done, total=total or kit.size)

    return bars, progressed


def _update_document(result: UpdateResult, directory: Path) -> dict[str, object]:
    return {
        "directory": str(directory),
        "plan": result.plan.raw,
        "downloaded_bytes": result.downloaded_bytes,
        "kits": [_fetched_document(k) for k in result.kits],
    }


def _fetched_document(k: FetchedKit) -> dict[str, object]:
    return {
        "target": k.target,
        "path": str(k.path),
        "name": k.kit.name,
        "kind": k.kit.kind,
        "size": k.size,
        "sha256": k.sha256,
        "verified_by": k.verified_by,
        "resumed_from": k.resumed_from,
        "already_there": k.already_there,
    }


# ---- SUP-1 ------------------------------------------------------------------------------------------


@app.command()
def ask(
    ctx: typer.Context,
    subject: Annotated[str, typer.Option("--subject", "-s", help="The question's subject.")],
    number: Annotated[str | None, typer.Option("--registration-number", "-n", help="The product asked about.")] = None,
    configuration: Annotated[str | None, typer.Option("--configuration", "-c", help="The configuration.")] = None,
    version: Annotated[str | None, typer.Option("--version", "-v", help="Its installed version.")] = None,
    platform: Annotated[str | None, typer.Option("--platform", "-p", help="The platform's version.")] = None,
    body: Annotated[str | None, typer.Option("--body", "-b", help="The question (Markdown).")] = None,
    body_file: Annotated[
        Path | None,
        typer.Option("--body-file", exists=True, dir_okay=False, help="The question, from a file (Markdown)."),
    ] = None,
    attach: Annotated[
        list[Path] | None,
        typer.Option("--attach", exists=True, dir_okay=False, help="A file to attach (repeat for more)."),
    ] = None,
    feedback: Annotated[bool, typer.Option("--feedback", help="Feedback to the vendor, not a question.")] = False,
    partner: Annotated[
        str | None, typer.Option("--partner-id", help="The partner to ask, when several accompany the product.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Ask the consulting line about the product, with the program's context and files attached (SUP-1)."""
    options: Options = ctx.obj
    if (body is None) == (body_file is None):
        err_console.print("[bold red]error:[/] give the question as --body TEXT or --body-file FILE (one of them)")
        raise typer.Exit(USAGE)
    text = body_file.read_text(encoding="utf-8") if body_file is not None else str(body)
    asked = run(
        options,
        as_json,
        lambda client: client.ask(
            subject,
            text,
            registration_number=number,
            configuration=configuration,
            version=version,
            platform_version=platform,
            attachments=attach or [],
            kind="feedback" if feedback else "consulting",
            partner_id=partner,
        ),
    )
    if as_json:
        emit({**asked.raw, "attachments": [a.__dict__ for a in asked.attachments]})
    else:
        say(cli_text.question(asked))


# ---- DAT-1 ------------------------------------------------------------------------------------------

DAY = ["%Y-%m-%d"]


@app.command()
def rates(
    ctx: typer.Context,
    currencies: Annotated[list[str], typer.Argument(help="ISO 4217 codes, e.g. USD EUR CNY.", show_default=False)],
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since", formats=DAY, help="The last day the program has: the days after it.", show_default=False
        ),
    ] = None,
    start: Annotated[
        datetime | None, typer.Option("--from", formats=DAY, help="The first day (1991-01-01 on).", show_default=False)
    ] = None,
    end: Annotated[
        datetime | None, typer.Option("--to", formats=DAY, help="The last day (default: today).", show_default=False)
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV: date,currency,nominal,value.")] = False,
    as_json: Json = False,
) -> None:
    """The Bank of Russia's exchange rates of every day of a period, since 1991, while ITS covers you (DAT-1)."""
    options: Options = ctx.obj
    if (since is None) == (start is None):
        err_console.print("[bold red]error:[/] give --since DAY (the last day you have) or --from DAY (one of them)")
        raise typer.Exit(USAGE)
    codes = [code.strip().upper() for given in currencies for code in given.split(",") if code.strip()]
    days = [d.date() if d is not None else None for d in (since, start, end)]
    answer = run(options, as_json, lambda client: client.rates(codes, since=days[0], start=days[1], end=days[2]))
    assert answer is not None  # asked without an ETag: never "not modified"
    if as_json:
        emit(answer.raw)
    elif as_csv:
        typer.echo("date,currency,nominal,value")
        for row in answer.rows:
            typer.echo(f"{row.day.isoformat()},{row.currency},{row.nominal},{row.value}")
    else:
        say(cli_text.exchange_rates(answer))


# ---- DAT-2 ------------------------------------------------------------------------------------------


@app.command()
def forms(
    ctx: typer.Context,
    configuration: Configuration,
    held: Annotated[
        list[str] | None, typer.Option("--held", help="A form the program holds, CODE=VERSION (repeat for more).")
    ] = None,
    to: Annotated[
        Path | None, typer.Option("--to", file_okay=False, help="Download the forms' files into this directory.")
    ] = None,
    as_json: Json = False,
) -> None:
    """The regulated reporting forms to receive: each one held in an older version or not at all (DAT-2); with --to,
    their files downloaded and checked."""
    options: Options = ctx.obj
    versions: dict[str, str] = {}
    for given in held or []:
        code, equals, version = given.partition("=")
        if not equals or not code.strip() or not version.strip():
            err_console.print(f"[bold red]error:[/] --held takes CODE=VERSION, e.g. 1151001=5.01, not {escape(given)}")
            raise typer.Exit(USAGE)
        versions[code.strip()] = version.strip()
    if to is None:
        found = run(options, as_json, lambda client: client.form_updates(configuration, versions))
        if as_json:
            emit(found.raw)
        else:
            say(cli_text.form_updates(found))
            if found.forms:
                again = " ".join(["its-client forms -c", configuration, *(f"--held {g}" for g in held or [])])
                say([f"Next: {again} --to DIRECTORY"])
        return
    bars, progressed = _progress_bars(enabled=not as_json)
    with bars:
        fetched = run(options, as_json, lambda client: client.receive_forms(configuration, versions, to, progressed))
    if as_json:
        emit({"directory": str(to), "files": [_fetched_document(f) for f in fetched]})
    else:
        say(cli_text.received_forms(fetched, configuration, str(to)))


def main() -> None:
    app()
