"""ITS-2 at start: the production calendar is generated for the years contracts can reach, and a production
start refuses a calendar that does not cover the next 12 months (one clear log line, exit 1)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.contracts.app import ContractsSettings, create_app
from shared.keys import CALENDAR
from tests.infra import ROOT

START_TIMEOUT = 60.0


def calendar_file(tmp_path: Path, *years: int) -> Path:
    """A calendar file with the given years (and no holidays at all)."""
    path = tmp_path / "pinned.json"
    data = {"country": "XX", "years": {str(y): {"non_working": [], "working": []} for y in years}}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


async def serve(tmp_path: Path, **env: str) -> tuple[int, list[dict[str, Any]]]:
    """`python -m services.contracts serve` with `env`; its exit code and JSON log lines (it must exit)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.contracts",
        "serve",
        cwd=ROOT,
        env={**os.environ, "ITS_VAR_DIR": str(tmp_path), "ITS_PORT": "0", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError("contracts did not refuse to start: it is serving") from None
    assert process.returncode is not None
    lines = [json.loads(line) for line in output.decode().splitlines() if line.startswith("{")]
    return process.returncode, lines


async def test_production_refuses_a_calendar_that_ends_within_12_months(tmp_path: Path) -> None:
    this_year = datetime.now(UTC).year  # production runs on the system clock
    pinned = calendar_file(tmp_path, this_year)
    code, lines = await serve(tmp_path, ITS_ENV="production", ITS_CALENDAR=str(pinned))
    assert code == 1, lines
    [refusal] = [line for line in lines if line.get("event") == "calendar.not_covering_next_12_months"]
    assert refusal["level"] == "error" and refusal["missing_years"] == [this_year + 1], refusal
    assert refusal["calendar"] == str(pinned) and refusal["covered_years"] == str(this_year)
    assert not any(line.get("event") == "starting" and line.get("level") == "error" for line in lines)


async def test_an_unusable_calendar_stops_the_start_with_one_line(tmp_path: Path) -> None:
    code, lines = await serve(tmp_path, ITS_ENV="production", ITS_CALENDAR="xx")
    assert code == 1, lines
    [refusal] = [line for line in lines if line.get("event") == "calendar.unusable"]
    assert "the holidays package has no calendar for country XX" in refusal["error"]


def test_production_starts_with_the_generated_calendar() -> None:
    app = create_app(ContractsSettings(env="production"))
    calendar = app[CALENDAR]
    today = datetime.now(UTC).date()
    assert calendar.missing_years(today, today + timedelta(days=366)) == []
    assert min(calendar.years) == today.year - 1 and max(calendar.years) == today.year + 10


def test_outside_production_a_short_calendar_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pinned = calendar_file(tmp_path, 1999)
    app = create_app(ContractsSettings(env="test", calendar=str(pinned), var_dir=tmp_path))
    assert app[CALENDAR].years == frozenset({1999})
    assert "calendar.not_covering_next_12_months" in capsys.readouterr().out
