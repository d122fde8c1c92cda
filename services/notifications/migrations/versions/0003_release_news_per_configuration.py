"""Release news per configuration: the configurations an account chose to hear nothing of. Kept as the
exceptions, so every configuration, also one registered later, is announced unless the account said no.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from shared.migrate import execute_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("ALTER TABLE preferences ADD COLUMN muted_configurations text[] NOT NULL DEFAULT '{}'")


def downgrade() -> None:
    execute_script("ALTER TABLE preferences DROP COLUMN muted_configurations")
