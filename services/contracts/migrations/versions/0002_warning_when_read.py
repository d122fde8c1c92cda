"""CMS-6: the activation's warning is computed when it is read (maintenance.contract_warning), not stored.

A stored warning went stale as soon as a contract covering the period arrived.

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
    execute_script("ALTER TABLE activations DROP COLUMN warning")


def downgrade() -> None:
    execute_script("ALTER TABLE activations ADD COLUMN warning text")
