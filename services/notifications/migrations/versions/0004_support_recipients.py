"""Whom support's letters go to (SUP-1): read models of identity's partners (their contact address) and of their
staff (who is on it, who administers it), from identity.partner.created and identity.partner_staff.joined/removed.

A staff row stays when the person leaves (`member` false): its `changed_at` keeps an older join that arrives late
from undoing the removal.

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-20
"""

from shared.migrate import execute_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE partners (
            id              uuid PRIMARY KEY,
            name            text NOT NULL,
            contact_email   text NOT NULL
        );

        CREATE TABLE partner_staff (
            partner_id  uuid NOT NULL,
            account_id  uuid NOT NULL,
            is_admin    boolean NOT NULL,
            member      boolean NOT NULL,
            changed_at  timestamptz NOT NULL,
            PRIMARY KEY (partner_id, account_id)
        );
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE partner_staff;\nDROP TABLE partners")
