"""Accounts, e-mail verification, refresh tokens, password resets, login attempts, signing keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from shared.kernel_schema import KERNEL_TABLES_V1
from shared.migrate import execute_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(KERNEL_TABLES_V1)
    execute_script(
        """
        CREATE TABLE accounts (
            id                   uuid PRIMARY KEY,
            login                text NOT NULL,
            email                text NOT NULL,
            full_name            text,
            language             text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'ru')),
            password_hash        text NOT NULL,
            email_verified_at    timestamptz,
            is_operator          boolean NOT NULL DEFAULT false,
            created_at           timestamptz NOT NULL,
            password_changed_at  timestamptz NOT NULL
        );
        -- rule ACC-1: login and e-mail unique, case-insensitively
        CREATE UNIQUE INDEX accounts_login_key ON accounts (lower(login));
        CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

        CREATE TABLE email_verifications (
            token_hash  bytea PRIMARY KEY,
            account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            email       text NOT NULL,
            created_at  timestamptz NOT NULL,
            expires_at  timestamptz NOT NULL,
            used_at     timestamptz,
            voided_at   timestamptz
        );
        CREATE INDEX email_verifications_account ON email_verifications (account_id, created_at);

        CREATE TABLE password_resets (
            token_hash  bytea PRIMARY KEY,
            account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            created_at  timestamptz NOT NULL,
            expires_at  timestamptz NOT NULL,
            used_at     timestamptz,
            voided_at   timestamptz
        );
        CREATE INDEX password_resets_account ON password_resets (account_id, created_at);

        CREATE TABLE refresh_tokens (
            token_hash   bytea PRIMARY KEY,
            family_id    uuid NOT NULL,
            account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            created_at   timestamptz NOT NULL,
            expires_at   timestamptz NOT NULL,
            used_at      timestamptz,
            revoked_at   timestamptz
        );
        CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
        CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id) WHERE revoked_at IS NULL;

        CREATE TABLE login_attempts (
            id           bigserial PRIMARY KEY,
            login        text NOT NULL,          -- lower-cased login as typed, existing or not
            client_addr  text NOT NULL,
            at           timestamptz NOT NULL,
            success      boolean NOT NULL
        );
        CREATE INDEX login_attempts_login ON login_attempts (login, at);
        CREATE INDEX login_attempts_addr ON login_attempts (client_addr, at) WHERE NOT success;

        CREATE TABLE signing_keys (
            kid          text PRIMARY KEY,
            private_pem  text NOT NULL,
            public_jwk   jsonb NOT NULL,
            created_at   timestamptz NOT NULL,
            retired_at   timestamptz
        );
        """
    )


def downgrade() -> None:
    execute_script(
        "DROP TABLE signing_keys, login_attempts, refresh_tokens, password_resets, email_verifications, "
        "accounts, deferred_jobs, inbox, outbox"
    )
