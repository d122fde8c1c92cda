"""What outsiders may use of updates: itsctl, devtools' demo data and the benchmarks import this module only.

When updates' insides move, this is the one file to update. itsctl imports it when it starts, so the
heavier modules (the app, kit storage) are imported only when their function is called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from services.updates.links import sign_link
from services.updates.plan import synthetic_releases
from services.updates.rates_currencies import CURRENCIES as RATE_CURRENCIES
from services.updates.rates_formats import CSV_HEADER as RATES_CSV_HEADER
from services.updates.rates_formats import FIRST_DAY as RATES_FIRST_DAY
from services.updates.tuf_roles import DELEGATIONS_KEY_FILE as TUF_DELEGATIONS_KEY_FILE
from services.updates.tuf_roles import ONLINE as TUF_ONLINE_ROLES
from services.updates.tuf_roles import is_delegated_role as is_delegated_tuf_role
from services.updates.tuf_roles import target_path as tuf_target_path
from services.updates.versions import Version

if TYPE_CHECKING:
    from shared.storage.fs import FileSystemStorage

__all__ = [
    "RATES_CSV_HEADER",
    "RATES_FIRST_DAY",
    "RATE_CURRENCIES",
    "TUF_DELEGATIONS_KEY_FILE",
    "TUF_ONLINE_ROLES",
    "Version",
    "database",
    "is_delegated_tuf_role",
    "kit_storage",
    "sign_link",
    "synthetic_releases",
    "tuf_target_path",
]


def database() -> tuple[Path, str]:
    """updates' migrations and its schema: what a throwaway database (the benchmarks) is migrated with."""
    from services.updates import app

    return app.MIGRATIONS, app.SCHEMA


def kit_storage(root: Path) -> FileSystemStorage:
    """Kits on the file system under `root`, as updates stores them."""
    from shared.storage.fs import FileSystemStorage

    return FileSystemStorage(root)
