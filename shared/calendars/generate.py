"""Print a production calendar file from the `holidays` package, to pin or review a calendar.

    python -m shared.calendars.generate RU 2026 2027 > /etc/its/ru-2026.json

The services do not need this: with `ITS_CALENDAR=ru` they generate the years they can reach when they start
(and any later year when first asked about). A file is for a calendar the package lacks or one to pin
(`ITS_CALENDAR=/path/ru-2026.json`); decree changes go into the sibling `<stem>.overrides.json`.
"""

from __future__ import annotations

import argparse
import json
import sys

from shared.calendar import calendar_data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a production calendar (JSON) for a country and years.")
    parser.add_argument("country", help="ISO 3166-1 alpha-2 code, e.g. RU")
    parser.add_argument("years", nargs="+", type=int, help="e.g. 2026 2027")
    args = parser.parse_args(argv)
    try:
        data = calendar_data(args.country, args.years)
    except ValueError as exc:
        parser.error(str(exc))
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
