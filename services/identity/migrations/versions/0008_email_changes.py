"""A holder changes the account's e-mail address: the new address is confirmed through a link (a single-use token,
stored hashed) before it replaces the old one; a new request voids the earlier link.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from shared.migrate import execute_script

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE email_changes (
            token_hash  bytea PRIMARY KEY,
            account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            new_email   text NOT NULL,
            created_at  timestamptz NOT NULL,
            expires_at  timestamptz NOT NULL,
            used_at     timestamptz,
            voided_at   timestamptz
        );
        CREATE INDEX email_changes_account ON email_changes (account_id, created_at);
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE email_changes;")
