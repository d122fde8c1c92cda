"""Contracts, idempotency keys, maintenance codes and activations, webhooks, and read models.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
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
        -- ITS contracts posted by partners (ITS-1), processed on the next business day (ITS-2).
        CREATE TABLE contracts (
            id                uuid PRIMARY KEY,
            partner_id        uuid NOT NULL,
            number            text NOT NULL,
            subscriber_code   text,
            org_name          text NOT NULL,
            tin               text NOT NULL,
            kpp               text,
            main_number       text NOT NULL,
            additional_numbers text[] NOT NULL DEFAULT '{}',
            period_from       text NOT NULL CHECK (period_from ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
            period_to         text NOT NULL CHECK (period_to ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
            kind              text NOT NULL,
            state             text NOT NULL CHECK (state IN ('processing', 'active', 'expired')),
            received_at       timestamptz NOT NULL,
            processing_on     date NOT NULL,
            effective_at      timestamptz NOT NULL,
            expires_at        timestamptz NOT NULL,
            activated_at      timestamptz,
            expired_at        timestamptz,
            CHECK (period_from <= period_to),
            UNIQUE (partner_id, number)
        );
        CREATE INDEX contracts_due ON contracts (effective_at) WHERE state = 'processing';
        CREATE INDEX contracts_expiring ON contracts (expires_at) WHERE state = 'active';
        CREATE INDEX contracts_number ON contracts (number);

        -- Every registration number a contract lists, main or additional (ITS-4, REG-4).
        CREATE TABLE contract_numbers (
            contract_id          uuid NOT NULL REFERENCES contracts (id),
            registration_number  text NOT NULL,
            is_main              boolean NOT NULL,
            PRIMARY KEY (contract_id, registration_number)
        );
        CREATE INDEX contract_numbers_number ON contract_numbers (registration_number);

        -- Idempotency-Key (IETF draft), per partner: the first answer, replayed for a retry.
        CREATE TABLE idempotency_keys (
            partner_id    uuid NOT NULL,
            key           text NOT NULL,
            fingerprint   bytea NOT NULL,
            status        integer NOT NULL,
            response      jsonb NOT NULL,
            created_at    timestamptz NOT NULL,
            PRIMARY KEY (partner_id, key)
        );
        CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

        -- ITS-6: subscribers' reports of wrong organisation data, for the partner.
        CREATE TABLE organisation_reports (
            id             uuid PRIMARY KEY,
            contract_id    uuid NOT NULL REFERENCES contracts (id),
            subscriber_id  uuid NOT NULL,
            account_id     uuid NOT NULL,
            message        text NOT NULL,
            reported_at    timestamptz NOT NULL
        );
        CREATE INDEX organisation_reports_by ON organisation_reports (contract_id, subscriber_id, reported_at);

        -- Partner systems' webhooks: contract outcomes, signed with the secret (HMAC-SHA256).
        CREATE TABLE webhooks (
            partner_id  uuid PRIMARY KEY,
            url         text NOT NULL,
            secret      text NOT NULL,
            updated_at  timestamptz NOT NULL
        );

        -- CMS: activation codes (the hash of a 80-bit code) and activations.
        CREATE TABLE activation_codes (
            code_hash      bytea PRIMARY KEY,
            category       smallint NOT NULL CHECK (category IN (1, 2)),
            months         integer NOT NULL CHECK (months BETWEEN 1 AND 36),
            batch_id       uuid NOT NULL,
            issued_at      timestamptz NOT NULL,
            used_at        timestamptz,
            activation_id  uuid
        );

        CREATE TABLE activations (
            id                   uuid PRIMARY KEY,
            subscriber_id        uuid NOT NULL,
            configuration        text NOT NULL,
            category             smallint NOT NULL,
            period_from          text NOT NULL,
            period_to            text NOT NULL,
            registration_number  text NOT NULL,
            partner_id           uuid,
            warning              text,
            activated_by         uuid NOT NULL,
            activated_at         timestamptz NOT NULL
        );
        CREATE INDEX activations_subscriber ON activations (subscriber_id, configuration);

        -- Read models. From registration: the catalogue and which subscriber has which number.
        CREATE TABLE configurations (
            code      text PRIMARY KEY,
            name      text NOT NULL,
            category  smallint NOT NULL
        );
        CREATE TABLE products (
            article         text PRIMARY KEY,
            name            text NOT NULL,
            edition         text NOT NULL,
            configurations  text[] NOT NULL,
            its_required    boolean NOT NULL
        );
        CREATE TABLE numbers (
            number           text PRIMARY KEY,
            article          text NOT NULL,
            edition          text NOT NULL,
            subscriber_id    uuid,
            subscriber_code  text,
            purchase_date    date,
            its_required     boolean,
            configurations   text[],
            registration     text CHECK (registration IN ('pending', 'active'))
        );
        CREATE INDEX numbers_subscriber ON numbers (subscriber_id) WHERE subscriber_id IS NOT NULL;
        -- From identity: subscribers' codes and names, partners' names and addresses.
        CREATE TABLE subscribers (
            id    uuid PRIMARY KEY,
            code  text NOT NULL UNIQUE,
            name  text NOT NULL
        );
        CREATE TABLE partners (
            id             uuid PRIMARY KEY,
            name           text NOT NULL,
            contact_email  text NOT NULL
        );
        """
    )


def downgrade() -> None:
    execute_script(
        "DROP TABLE partners, subscribers, numbers, products, configurations, activations, activation_codes, "
        "webhooks, organisation_reports, idempotency_keys, contract_numbers, contracts, deferred_jobs, inbox, outbox"
    )
