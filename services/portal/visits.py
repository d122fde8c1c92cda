"""The account's previous visit, for home's "new releases since your last visit".

A visit is a run of home pages shown with no more than VISIT_GAP between one and the next: coming back to home
within the hour (after opening a release, say) is the same visit, and keeps listing the same releases as new;
home shown after a longer pause starts a new visit, and "the last visit" is then the last time home was shown in
the one before. Times are on the shared clock, as the releases' publication times are (updates' clock).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from services.portal import visits_store
from shared.db import Pool

VISIT_GAP = timedelta(hours=1)


async def home_shown(pool: Pool, account_id: uuid.UUID, now: datetime) -> datetime | None:
    """Note that home is shown to the account now; the end of its previous visit (None: the first visit)."""
    async with pool.acquire() as conn:
        return await visits_store.home_shown(conn, account_id, now, VISIT_GAP)
