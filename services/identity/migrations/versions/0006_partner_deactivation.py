"""Partners can be deactivated (and reactivated) by operators: none of their clients or staff get tokens meanwhile.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from shared.migrate import execute_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("ALTER TABLE partners ADD COLUMN deactivated_at timestamptz;")


def downgrade() -> None:
    execute_script("ALTER TABLE partners DROP COLUMN deactivated_at;")
