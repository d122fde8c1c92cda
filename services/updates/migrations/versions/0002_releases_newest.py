"""Operators list releases newest first too (by release date, then id): keyset (release_date, id) on an index,
one index walk per page however deep.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from shared.migrate import execute_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("CREATE INDEX releases_newest ON releases (release_date DESC, id DESC)")


def downgrade() -> None:
    execute_script("DROP INDEX releases_newest")
