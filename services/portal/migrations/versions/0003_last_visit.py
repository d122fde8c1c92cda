"""Each account's visits of the home page: the last time it was shown, and the end of the visit before this one
(home lists the releases published since).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from shared.migrate import execute_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        -- Not in sessions: a session ends at logout, a visit is remembered across sessions (and devices).
        CREATE TABLE visits (
            account_id        uuid PRIMARY KEY,
            seen_at           timestamptz NOT NULL,
            previous_seen_at  timestamptz
        );
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE visits;")
