"""Partner users: accounts invited to a partner, through the same invitations as subscribers' users.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from shared.migrate import execute_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE partner_members (
            partner_id   uuid NOT NULL REFERENCES partners (id),
            account_id   uuid NOT NULL REFERENCES accounts (id),
            is_admin     boolean NOT NULL,
            joined_at    timestamptz NOT NULL,
            PRIMARY KEY (partner_id, account_id)
        );
        CREATE INDEX partner_members_account ON partner_members (account_id);

        -- An invitation is to a subscriber or to a partner, never both.
        ALTER TABLE invitations ALTER COLUMN subscriber_id DROP NOT NULL;
        ALTER TABLE invitations ADD COLUMN partner_id uuid REFERENCES partners (id);
        ALTER TABLE invitations ADD COLUMN partner_admin boolean NOT NULL DEFAULT false;
        ALTER TABLE invitations ADD CONSTRAINT invitations_one_target
            CHECK ((subscriber_id IS NULL) <> (partner_id IS NULL));
        CREATE INDEX invitations_partner ON invitations (partner_id, created_at DESC) WHERE partner_id IS NOT NULL;
        ALTER TABLE invitation_sends ALTER COLUMN subscriber_id DROP NOT NULL;
        ALTER TABLE invitation_sends ADD COLUMN partner_id uuid REFERENCES partners (id);
        CREATE INDEX invitation_sends_partner ON invitation_sends (partner_id, sent_at) WHERE partner_id IS NOT NULL;
        CREATE UNIQUE INDEX invitations_one_open_partner ON invitations (partner_id, lower(email))
            WHERE partner_id IS NOT NULL AND accepted_at IS NULL AND revoked_at IS NULL AND superseded_at IS NULL;
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DELETE FROM invitation_sends WHERE partner_id IS NOT NULL;
        ALTER TABLE invitation_sends DROP COLUMN partner_id;
        ALTER TABLE invitation_sends ALTER COLUMN subscriber_id SET NOT NULL;
        DELETE FROM invitations WHERE partner_id IS NOT NULL;
        ALTER TABLE invitations DROP CONSTRAINT invitations_one_target;
        ALTER TABLE invitations DROP COLUMN partner_admin;
        ALTER TABLE invitations DROP COLUMN partner_id;
        ALTER TABLE invitations ALTER COLUMN subscriber_id SET NOT NULL;
        DROP TABLE partner_members;
        """
    )
