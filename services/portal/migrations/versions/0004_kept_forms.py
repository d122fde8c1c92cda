"""Forms kept across an expired session or the partner cabinet's password (issue 17).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

from shared.migrate import execute_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        -- What someone typed into a form that arrived after their session (or the partner cabinet's password) had
        -- expired, until they have logged in again and seen it on the form (services/portal/kept_forms.py).
        -- The browser holds a random 256-bit id in a cookie; only its SHA-256 is stored here, and the fields are
        -- encrypted with a key derived from that id. Never a password, a PIN or a token.
        CREATE TABLE kept_forms (
            id_hash     bytea PRIMARY KEY,
            account_id  uuid,                -- whose form it is; NULL until someone logs in in that browser
            path        text NOT NULL,       -- the page of the form (GET), where the values come back
            fields      bytea NOT NULL,
            created_at  timestamptz NOT NULL,
            expires_at  timestamptz NOT NULL
        );
        CREATE INDEX kept_forms_expiry ON kept_forms (expires_at);
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE kept_forms;")
