"""A partner's contracts are listed newest first by keyset (received_at, id): one index walk per page, however
deep, instead of a scan and sort of every contract the partner ever posted.

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
    execute_script("CREATE INDEX contracts_partner_received ON contracts (partner_id, received_at DESC, id DESC)")


def downgrade() -> None:
    execute_script("DROP INDEX contracts_partner_received")
