"""REG-7: wrong PINs are counted per (number, subscriber), per subscriber and per number, so that a stranger
who reads a registration number off a box cannot lock its owner out.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from shared.migrate import execute_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        -- NULL for the failures counted before (they count for their number only, and leave within the hour).
        ALTER TABLE pin_failures ADD COLUMN subscriber_id uuid;
        CREATE INDEX pin_failures_subscriber_at ON pin_failures (subscriber_id, at) WHERE subscriber_id IS NOT NULL;
        """
    )


def downgrade() -> None:
    execute_script("DROP INDEX pin_failures_subscriber_at; ALTER TABLE pin_failures DROP COLUMN subscriber_id")
