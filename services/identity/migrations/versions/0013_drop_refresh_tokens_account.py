"""The index of an account's live refresh tokens goes: the member's index serves the same reads.

`refresh_tokens_member (account_id, subscriber_id) WHERE revoked_at IS NULL` has the same condition and begins with
the same column, so revoking an account's tokens (tokens_store.revoke_account_refresh_tokens) scans it as it scanned
`refresh_tokens_account`; every login and refresh inserted into both.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from shared.migrate import execute_script

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("DROP INDEX refresh_tokens_account")


def downgrade() -> None:
    execute_script("CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id) WHERE revoked_at IS NULL")
