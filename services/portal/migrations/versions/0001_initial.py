"""Server-side sessions of the portal.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from shared.migrate import execute_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        -- A browser's session. The cookie holds a random 256-bit id; only its SHA-256 is stored here.
        -- The tokens are encrypted with a key derived from that id, so this table alone opens nothing.
        CREATE TABLE sessions (
            id_hash          bytea PRIMARY KEY,
            account_id       uuid,
            login            text,
            subscriber_code  text,
            tokens           bytea,
            language         text NOT NULL CHECK (language IN ('en', 'ru')),
            csrf_secret      bytea NOT NULL,
            created_at       timestamptz NOT NULL,
            last_seen_at     timestamptz NOT NULL,
            expires_at       timestamptz NOT NULL,
            CHECK ((account_id IS NULL) = (tokens IS NULL))
        );
        CREATE INDEX sessions_expiry ON sessions (expires_at);
        CREATE INDEX sessions_account ON sessions (account_id) WHERE account_id IS NOT NULL;
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE sessions;")
