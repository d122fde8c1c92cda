"""What outsiders may use of support: itsctl, devtools' demo data and the benchmarks import this module only.

When support's insides move, this is the one file to update.
"""

from __future__ import annotations

from pathlib import Path

from services.support.settings import SupportSettings

__all__ = ["SupportSettings", "database"]


def database() -> tuple[Path, str]:
    """support's migrations and its schema: what a throwaway database (the benchmarks) is migrated with."""
    from services.support import app

    return app.MIGRATIONS, app.SCHEMA
