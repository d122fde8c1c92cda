"""What outsiders may use of contracts: itsctl and the benchmarks import this module only.

When contracts' insides move, this is the one file to update. itsctl imports it when it starts, so the
heavier modules (the app, processing) are imported only when their function is called.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from services.contracts.domain import effective_moment
from services.contracts.settings import ContractsSettings
from services.contracts.support_cache import CHANNEL as SUPPORT_CHANNEL

if TYPE_CHECKING:
    from shared.db import Connection

__all__ = ["SUPPORT_CHANNEL", "ContractsSettings", "database", "effective_moment", "schedule_processing"]


def database() -> tuple[Path, str]:
    """contracts' migrations and its schema: what a throwaway database (the benchmarks) is migrated with."""
    from services.contracts import app

    return app.MIGRATIONS, app.SCHEMA


async def schedule_processing(conn: Connection, at: datetime) -> None:
    """The processing job of the contracts due at `at` (one job per moment)."""
    from services.contracts import processing

    await processing.schedule_processing(conn, at)
