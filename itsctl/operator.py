"""`itsctl operator create`: the first operator (vendor staff), before anyone can use the API."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from itsctl._common import console, fail

app = typer.Typer(help="Operators: the vendor's staff.", no_args_is_help=True)


@app.command()
def create(
    login: Annotated[str, typer.Option(help="Login of the operator (an existing account is made an operator)")],
    email: Annotated[str, typer.Option(help="E-mail address (taken as verified)")],
    full_name: Annotated[str | None, typer.Option(help="Full name")] = None,
) -> None:
    """Create an operator account, or make an existing account an operator.

    The password is asked for, or read from ITS_OPERATOR_PASSWORD (for scripts).
    """
    from services.identity.public import IdentitySettings, PasswordRejected, ensure_account

    password = os.environ.get("ITS_OPERATOR_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        outcome = asyncio.run(
            ensure_account(
                IdentitySettings(), login=login, password=password, email=email, full_name=full_name, operator=True
            )
        )
    except PasswordRejected as exc:
        fail(f"password not accepted: {exc}")
    except OSError as exc:
        fail(f"cannot reach the database: {exc}")
    messages = {
        "created": f"operator {login} created",
        "promoted": f"{login} is an operator now",
        "exists": f"{login} is an operator already",
    }
    console.print(messages[outcome])
