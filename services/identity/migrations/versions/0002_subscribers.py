"""Subscribers and their members (rules SUB-1, SUB-2, SUB-7); every existing account gets its own.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import secrets
import uuid

import sqlalchemy as sa
from alembic import op

from shared.migrate import execute_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE subscribers (
            id                uuid PRIMARY KEY,
            code              text NOT NULL UNIQUE CHECK (code ~ '^CL-[0-9]{7}$'),
            name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
            owner_account_id  uuid NOT NULL UNIQUE REFERENCES accounts (id),
            created_at        timestamptz NOT NULL
        );

        CREATE TABLE members (
            subscriber_id  uuid NOT NULL REFERENCES subscribers (id),
            account_id     uuid NOT NULL REFERENCES accounts (id),
            role           text NOT NULL CHECK (role IN ('owner', 'user')),
            its_access     boolean NOT NULL,
            joined_at      timestamptz NOT NULL,
            excluded_at    timestamptz,
            PRIMARY KEY (subscriber_id, account_id)
        );
        CREATE INDEX members_account ON members (account_id);

        ALTER TABLE refresh_tokens ADD COLUMN subscriber_id uuid REFERENCES subscribers (id);
        CREATE INDEX refresh_tokens_member ON refresh_tokens (account_id, subscriber_id) WHERE revoked_at IS NULL;
        """
    )
    # Accounts registered before subscribers existed get theirs now (SUB-1), named as at registration.
    bind = op.get_bind()
    accounts = bind.execute(sa.text("SELECT id, login, full_name, created_at FROM accounts")).fetchall()
    for account_id, login, full_name, created_at in accounts:
        subscriber_id = uuid.uuid4()
        while True:
            code = f"CL-{secrets.randbelow(10**7):07d}"
            if bind.execute(sa.text("SELECT 1 FROM subscribers WHERE code = :code"), {"code": code}).first() is None:
                break
        bind.execute(
            sa.text(
                "INSERT INTO subscribers (id, code, name, owner_account_id, created_at) "
                "VALUES (:id, :code, :name, :owner, :at)"
            ),
            {"id": subscriber_id, "code": code, "name": full_name or login, "owner": account_id, "at": created_at},
        )
        bind.execute(
            sa.text(
                "INSERT INTO members (subscriber_id, account_id, role, its_access, joined_at) "
                "VALUES (:sid, :aid, 'owner', true, :at)"
            ),
            {"sid": subscriber_id, "aid": account_id, "at": created_at},
        )


def downgrade() -> None:
    execute_script(
        """
        ALTER TABLE refresh_tokens DROP COLUMN subscriber_id;
        DROP TABLE members;
        DROP TABLE subscribers;
        """
    )
