"""Generate a production calendar data file (rule ITS-2) from the `holidays` package.

    python -m services.contracts.calendars.generate RU 2026 2027 > services/contracts/calendars/ru.json

Only this generator needs `holidays` (a dev dependency); the service reads the JSON it writes.
Decree changes made after generation go into `<country>.overrides.json`, not into the generated file.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from importlib.metadata import version
from typing import Any

import holidays


def build(country: str, years: list[int]) -> dict[str, Any]:
    """The calendar data for `country` and `years`, in the format `calendar.load_calendar` reads."""
    found = holidays.country_holidays(country, years=years)
    by_year: dict[str, dict[str, list[str]]] = {}
    for year in sorted(set(years)):
        # Public holidays and days off moved by decree; those on weekends are kept too (harmless, and
        # they show a reviewer the whole official list).
        non_working = sorted(day for day in found if day.year == year)
        # Weekend days that are working days by decree (rule ITS-2: "transferred working days").
        working = sorted(day for day in found.weekend_workdays if day.year == year)
        by_year[str(year)] = {
            "non_working": [day.isoformat() for day in non_working],
            "working": [day.isoformat() for day in working],
        }
    return {
        "country": country.upper(),
        "source": f"python holidays {version('holidays')}: country_holidays({country.upper()!r}) "
        "public holidays and weekend_workdays",
        "generated": date.today().isoformat(),
        "years": by_year,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a production calendar (JSON) for a country and years.")
    parser.add_argument("country", help="ISO 3166-1 alpha-2 code, e.g. RU")
    parser.add_argument("years", nargs="+", type=int, help="e.g. 2026 2027")
    args = parser.parse_args(argv)
    try:
        data = build(args.country, args.years)
    except NotImplementedError:
        parser.error(f"the holidays package has no calendar for country {args.country!r}")
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
