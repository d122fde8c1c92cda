"""How a command runs: the global options, the client opened for one command, and every expected failure turned
into a message (or, with `--json`, a JSON object) and an exit code — never a traceback.

Exit codes: 0 done; 1 refused or failed (not covered, not allowed, a download or attachment that failed); 2 usage (the
command line, or a request the portal finds invalid); 3 not logged in (or the login ended, or the password was
refused); 4 no connection (no answer, the service unavailable); 130 interrupted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from its_client import cli_text
from its_client.client import ItsClient
from its_client.errors import (
    ConnectionFailed,
    InvalidRequest,
    ItsError,
    NotAuthenticated,
    NoUpdateChain,
    ServiceUnavailable,
)

OK, REFUSED, USAGE, NOT_LOGGED_IN, CONNECTION, INTERRUPTED = 0, 1, 2, 3, 4, 130

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    """The global options: which system, which CA to trust, where the login is kept, the trusted root of its signed
    update metadata."""

    url: str
    ca_file: Path | None
    config_dir: Path | None
    root: Path | None = None

    def client(self) -> ItsClient:
        trusted_root = self.root.read_bytes() if self.root is not None else None
        return ItsClient(self.url, ca_file=self.ca_file, config_dir=self.config_dir, trusted_root=trusted_root)


def exit_code(exc: ItsError) -> int:
    if isinstance(exc, NotAuthenticated):
        return NOT_LOGGED_IN
    if isinstance(exc, ConnectionFailed | ServiceUnavailable):
        return CONNECTION
    if isinstance(exc, InvalidRequest) and not isinstance(exc, NoUpdateChain):
        return USAGE
    return REFUSED


def run(options: Options, as_json: bool, work: Callable[[ItsClient], Awaitable[T]], *, logging_in: bool = False) -> T:
    """`work` with a client for the system; an expected failure ends the command with its message and exit code
    (`logging_in`: a refusal is of the login and password given, not of a kept login)."""

    async def go() -> T:
        async with options.client() as client:
            return await work(client)

    try:
        return asyncio.run(go())
    except ItsError as exc:
        if as_json:
            emit({"error": exc.to_json()})
        else:
            for line in cli_text.error(exc, options.url, logging_in=logging_in):
                err_console.print(line)
        raise typer.Exit(exit_code(exc)) from None
    except OSError as exc:  # a local file: an attachment, the download directory, the config directory
        fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc), as_json)
    except KeyboardInterrupt:
        fail("interrupted; what was downloaded is kept: run the command again to resume", as_json, INTERRUPTED)


def fail(message: str, as_json: bool, code: int = REFUSED) -> NoReturn:
    if as_json:
        emit({"error": {"error": "Failed", "detail": message}})
    else:
        err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def emit(data: Any) -> None:
    """One JSON document on stdout, for programs."""
    typer.echo(json.dumps(data, ensure_ascii=False, default=str, indent=2))


def say(lines: list[str]) -> None:
    for line in lines:
        console.print(line)
