"""A change to an account announces itself (issue 19): `pg_notify('identity_accounts', account_id)` from a trigger,
in the transaction that makes it, so that each replica drops the account it keeps for `GET /v1/me`
(`services.identity.accounts_kept`). A trigger rather than a call beside each UPDATE: accounts are changed by
registration, e-mail verification and changes, password changes and resets, profile edits and the operator
command, and a change added later cannot forget to announce itself. A new account is in no one's memory yet.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from shared.migrate import execute_script

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The channel is services.identity.accounts_kept.CHANNEL.
UPGRADE = """
CREATE FUNCTION announce_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('identity_accounts', OLD.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER accounts_announce AFTER UPDATE OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION announce_account_change();
"""

DOWNGRADE = """
DROP TRIGGER accounts_announce ON accounts;
DROP FUNCTION announce_account_change();
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
