"""Invitations (rules INV-1..6).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from shared.migrate import execute_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE invitations (
            id             uuid PRIMARY KEY,
            subscriber_id  uuid NOT NULL REFERENCES subscribers (id),
            email          text NOT NULL,
            full_name      text NOT NULL,
            its_access     boolean NOT NULL,
            text           text NOT NULL,
            token_hash     bytea NOT NULL UNIQUE,
            created_at     timestamptz NOT NULL,
            sent_at        timestamptz NOT NULL,
            valid_until    timestamptz NOT NULL,
            accepted_at    timestamptz,
            accepted_by    uuid REFERENCES accounts (id),
            revoked_at     timestamptz,
            superseded_at  timestamptz
        );
        CREATE INDEX invitations_subscriber ON invitations (subscriber_id, created_at DESC);
        -- rule INV-4: one open invitation per address within a subscriber, even under concurrency
        CREATE UNIQUE INDEX invitations_one_open ON invitations (subscriber_id, lower(email))
            WHERE accepted_at IS NULL AND revoked_at IS NULL AND superseded_at IS NULL;

        CREATE TABLE invitation_sends (
            subscriber_id  uuid NOT NULL REFERENCES subscribers (id),
            invitation_id  uuid NOT NULL REFERENCES invitations (id),
            sent_at        timestamptz NOT NULL
        );
        CREATE INDEX invitation_sends_subscriber ON invitation_sends (subscriber_id, sent_at);
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP TABLE invitation_sends;
        DROP TABLE invitations;
        """
    )
