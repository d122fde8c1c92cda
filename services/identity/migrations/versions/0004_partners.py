"""Partners and their API clients (OAuth 2.0 client_credentials).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
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
            id             uuid PRIMARY KEY,
            name           text NOT NULL,
            tin            text NOT NULL UNIQUE,
            city           text NOT NULL,
            contact_email  text NOT NULL,
            created_at     timestamptz NOT NULL
        );

        CREATE TABLE partner_clients (
            id           uuid PRIMARY KEY,          -- the client_id
            partner_id   uuid NOT NULL REFERENCES partners (id),
            name         text NOT NULL,
            secret_hash  bytea NOT NULL,            -- sha256 of a 256-bit random secret
            created_at   timestamptz NOT NULL,
            revoked_at   timestamptz
        );
        CREATE INDEX partner_clients_partner ON partner_clients (partner_id, created_at);
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP TABLE partner_clients;
        DROP TABLE partners;
        """
    )
