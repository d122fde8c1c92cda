"""`itsctl clock`: show and move the test clock of the local stack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from itsctl._common import console, fail, load_settings
from shared.clock import TestClock, TestClockRefused, movable_clock, parse_duration

app = typer.Typer(
    help="Show or move the test clock shared by the local stack (refused in production).",
    no_args_is_help=True,
)

# lets `advance -1d` through as an argument rather than an unknown option
_NEGATIVE_OK = {"ignore_unknown_options": True}


def format_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M:%S UTC")


def format_offset(offset: timedelta) -> str:
    total = round(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    days, rest = divmod(abs(total), 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{days}d {hours:02}:{minutes:02}:{seconds:02}"


def _clock() -> TestClock:
    settings = load_settings()
    try:
        return movable_clock(production=settings.is_production, var_dir=settings.var_dir)
    except TestClockRefused as exc:
        fail(f"{exc}; nothing changed")


def _print_state(clock: TestClock) -> None:
    offset = clock.offset()
    real = datetime.now(UTC)
    console.print(f"real time   {format_time(real)}")
    console.print(f"test time   {format_time(real + offset)}")
    console.print(f"offset      {format_offset(offset)}")
    console.print(f"clock file  {clock.path}", style="dim")


@app.command()
def show() -> None:
    """Print the real time, the test time and the offset between them."""
    settings = load_settings()
    if settings.is_production:
        console.print(f"real time   {format_time(datetime.now(UTC))}")
        console.print("test clock  off: in production every service uses the system clock")
        return
    _print_state(movable_clock(production=False, var_dir=settings.var_dir))


@app.command("set")
def set_(
    when: Annotated[
        str,
        typer.Argument(
            metavar="ISO_DATETIME",
            help="e.g. 2026-12-31T23:59:00+03:00; without a time zone it is UTC.",
        ),
    ],
) -> None:
    """Move the test clock so that it reads WHEN now."""
    try:
        target = datetime.fromisoformat(when)
    except ValueError:
        fail(f"not an ISO 8601 date-time: {when!r} (e.g. 2026-12-31T23:59:00+03:00)", 2)
    if target.tzinfo is None:
        target = target.replace(tzinfo=UTC)
    clock = _clock()
    clock.set(target)
    _print_state(clock)


@app.command(context_settings=_NEGATIVE_OK)
def advance(
    duration: Annotated[str, typer.Argument(help="e.g. 1d, 15m, 2h30m, 1w; -1d moves it back.")],
) -> None:
    """Move the test clock forward by DURATION (every service sees it within a second)."""
    try:
        by = parse_duration(duration)
    except ValueError as exc:
        fail(str(exc), 2)
    clock = _clock()
    clock.advance(by)
    _print_state(clock)


@app.command()
def reset() -> None:
    """Put the test clock back on real time (offset 0)."""
    clock = _clock()
    clock.reset()
    _print_state(clock)
