"""A partner's contracts are also listed ending soonest first (keyset (expires_at, id)), and often only those in
one state (what is still processing): each order and filter is one index walk per page, however many contracts
the partner has.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from shared.migrate import execute_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE INDEX contracts_partner_expires ON contracts (partner_id, expires_at, id);
        CREATE INDEX contracts_partner_state_received ON contracts (partner_id, state, received_at DESC, id DESC);
        """
    )


def downgrade() -> None:
    execute_script("DROP INDEX contracts_partner_state_received, contracts_partner_expires")
