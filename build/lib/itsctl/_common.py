"""What every command group shares: consoles, settings, failing with a message."""

from __future__ import annotations

from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from shared.settings import BaseServiceSettings

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def load_settings() -> BaseServiceSettings:
    try:
        return BaseServiceSettings()
    except ValidationError as exc:
        problems = "; ".join(f"ITS_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors())
        fail(f"bad settings: {problems}", code=2)
