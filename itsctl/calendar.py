"""`itsctl calendar`: the production calendar the services are configured with, and when contracts processes a
posted contract (rule ITS-2).

The calendar and the vendor's time zone are every service's settings (ITS_CALENDAR, ITS_VENDOR_TIMEZONE,
shared.settings), read here as contracts reads them; nothing is asked of a service. A country's calendar is
generated, as a service does at start, for the years around the day asked about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.markup import escape

from itsctl._common import console, err_console, fail
from services.contracts.public import ContractsSettings, effective_moment
from shared.calendar import ProductionCalendar, load_calendar, reach
from shared.clock import make_clock

app = typer.Typer(help="The production calendar: when posted contracts are processed.", no_args_is_help=True)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Configured:
    settings: ContractsSettings
    calendar: ProductionCalendar

    @property
    def zone(self) -> ZoneInfo:
        return self.settings.vendor_zone


def settings() -> ContractsSettings:
    """contracts' settings; fails with the reason."""
    try:
        return ContractsSettings()
    except ValidationError as exc:
        problems = "; ".join(f"ITS_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors())
        fail(escape(f"bad settings: {problems}"), code=2)


def configured(found: ContractsSettings, years: Iterable[int]) -> Configured:
    """contracts' calendar (for `years`, where it is generated) and zone, as its settings name them."""
    try:
        calendar = load_calendar(found.calendar, years)
    except ValueError as exc:
        fail(escape(f"ITS_CALENDAR={found.calendar}: {exc}"))
    return Configured(found, calendar)


def parse_moment(text: str, zone: ZoneInfo) -> datetime:
    """`2026-11-27T23:59`, `2026-11-27 23:59+03:00` or `2026-11-27` (its start); without an offset, in `zone`."""
    text = text.strip()
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time(0, 0))
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or date-time: {text!r} (e.g. 2026-11-27T23:59)") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def describe(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{WEEKDAYS[local.weekday()]} {local:%Y-%m-%d %H:%M} {local.tzname()}"


def day_line(day: date) -> str:
    return f"{day.isoformat()} {WEEKDAYS[day.weekday()]}"


@dataclass(frozen=True)
class Year:
    non_working_weekdays: list[date]
    working_weekend_days: list[date]
    business_days: int
    covered: bool


def year_of(calendar: ProductionCalendar, year: int) -> Year:
    days = [date.fromordinal(n) for n in range(date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal())]
    return Year(
        non_working_weekdays=[d for d in days if d.weekday() < 5 and not calendar.is_business_day(d)],
        working_weekend_days=[d for d in days if d.weekday() >= 5 and calendar.is_business_day(d)],
        business_days=sum(calendar.is_business_day(d) for d in days),
        covered=calendar.covers(date(year, 1, 1)),
    )


def _uncovered(calendar: ProductionCalendar, year: int) -> None:
    years = ", ".join(str(y) for y in sorted(calendar.years))
    err_console.print(
        f"[yellow]warning:[/] calendar {escape(calendar.country)} has no data for {year} (it covers {years}): "
        "only weekends count as days off"
    )


@app.command("next")
def next_(
    when: Annotated[
        str | None,
        typer.Argument(
            metavar="[DATE-TIME]",
            help="When the contract is received, e.g. 2026-11-27T23:59 (the vendor's zone unless an offset is "
            "given). Default: now, by the clock of the local stack (its test clock outside production).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """When a contract received at DATE-TIME is processed: the start of the next business day (ITS-2)."""
    found = settings()
    zone = found.vendor_zone
    if when is None:
        received = make_clock(production=found.is_production, var_dir=found.var_dir).now()
    else:
        try:
            received = parse_moment(when, zone)
        except ValueError as exc:
            fail(escape(str(exc)), code=2)
    config = configured(found, reach(received.astimezone(zone).date()))
    effective = effective_moment(config.calendar, received, zone)
    for day in {received.astimezone(zone).date(), effective.date()}:
        if not config.calendar.covers(day):
            _uncovered(config.calendar, day.year)
    console.print(f"received   {describe(received, zone)}")
    console.print(f"processed  {describe(effective, zone)}")
    console.print(f"calendar {escape(config.settings.calendar)}, zone {config.settings.vendor_timezone}", style="dim")


@app.command()
def show(
    year: Annotated[int, typer.Argument(min=1900, max=2999, help="e.g. 2026", show_default=False)],
) -> None:
    """The year's non-working weekdays (holidays, days off by decree) and working weekend days."""
    config = configured(settings(), [year])
    if not config.calendar.covers(date(year, 1, 1)):
        _uncovered(config.calendar, year)
    found = year_of(config.calendar, year)
    console.print(f"calendar {escape(config.settings.calendar)} ({escape(config.calendar.country)}), {year}")
    console.print(f"non-working weekdays ({len(found.non_working_weekdays)}):")
    for day in found.non_working_weekdays:
        console.print(f"  {day_line(day)}")
    if not found.non_working_weekdays:
        console.print("  none")
    console.print(f"working weekend days ({len(found.working_weekend_days)}):")
    for day in found.working_weekend_days:
        console.print(f"  {day_line(day)}")
    if not found.working_weekend_days:
        console.print("  none")
    console.print(f"business days: {found.business_days}")
