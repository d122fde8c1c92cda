"""Whether a session's account is on some partner's staff (the nav offers the partner cabinet).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from shared.migrate import execute_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("ALTER TABLE sessions ADD COLUMN partner_staff boolean NOT NULL DEFAULT false;")


def downgrade() -> None:
    execute_script("ALTER TABLE sessions DROP COLUMN partner_staff;")
