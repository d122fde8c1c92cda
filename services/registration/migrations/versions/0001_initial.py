"""Catalogue, registration numbers, PIN failures, transfers, and the read models of others' events.

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
        -- The catalogue (REG-1, CMS-2), kept by operators.
        CREATE TABLE configurations (
            code                  text PRIMARY KEY CHECK (code ~ '^[A-Za-z][A-Za-z0-9_.-]{0,63}$'),
            name                  text NOT NULL,
            maintenance_category  smallint NOT NULL CHECK (maintenance_category IN (1, 2)),
            vendor                text NOT NULL,
            created_at            timestamptz NOT NULL,
            updated_at            timestamptz NOT NULL
        );

        CREATE TABLE products (
            article       text PRIMARY KEY CHECK (article ~ '^[0-9]{13}$'),
            name          text NOT NULL,
            edition       text NOT NULL CHECK (edition IN ('BASIC', 'PROF', 'CORP', 'SPECIAL')),
            pin_envelope  boolean NOT NULL,
            its_required  boolean NOT NULL,
            created_at    timestamptz NOT NULL,
            updated_at    timestamptz NOT NULL
        );

        CREATE TABLE product_configurations (
            article             text NOT NULL REFERENCES products (article) ON DELETE CASCADE,
            configuration_code  text NOT NULL REFERENCES configurations (code),
            PRIMARY KEY (article, configuration_code)
        );

        -- One row per issued number; the registration columns are set when a subscriber gets it.
        CREATE TABLE registration_numbers (
            number            text PRIMARY KEY CHECK (number ~ '^[0-9]{11}$'),
            article           text NOT NULL REFERENCES products (article),
            batch_id          uuid NOT NULL,
            pin_hash          text,
            issued_at         timestamptz NOT NULL,
            pin_used_at       timestamptz,
            subscriber_id     uuid,
            subscriber_code   text,
            registered_by     text CHECK (registered_by IN ('self', 'partner')),
            partner_id        uuid,
            account_id        uuid,
            purchase_date     date,
            card              jsonb,
            registered_at     timestamptz,
            active_from       timestamptz,
            state             text NOT NULL DEFAULT 'issued' CHECK (state IN ('issued', 'pending', 'active')),
            CHECK ((state = 'issued') = (subscriber_id IS NULL))
        );
        CREATE INDEX registration_numbers_subscriber ON registration_numbers (subscriber_id)
            WHERE subscriber_id IS NOT NULL;

        -- REG-7: wrong PINs per number, counted over a sliding hour.
        CREATE TABLE pin_failures (
            number  text NOT NULL,
            at      timestamptz NOT NULL
        );
        CREATE INDEX pin_failures_number_at ON pin_failures (number, at);

        -- Operators' transfers of a number between subscribers, kept for audit.
        CREATE TABLE transfers (
            id                  uuid PRIMARY KEY,
            number              text NOT NULL REFERENCES registration_numbers (number),
            from_subscriber_id  uuid NOT NULL,
            to_subscriber_id    uuid NOT NULL,
            operator_id         uuid NOT NULL,
            reason              text NOT NULL,
            at                  timestamptz NOT NULL
        );

        -- Read models of identity's events: subscriber codes, owners' addresses, partners' names.
        CREATE TABLE subscribers (
            id                uuid PRIMARY KEY,
            code              text NOT NULL UNIQUE,
            name              text NOT NULL,
            owner_account_id  uuid NOT NULL
        );
        CREATE TABLE accounts (
            id         uuid PRIMARY KEY,
            email      text NOT NULL,
            full_name  text,
            language   text NOT NULL
        );
        CREATE TABLE partners (
            id    uuid PRIMARY KEY,
            name  text NOT NULL
        );

        -- Read model of contracts' events (REG-4): which numbers an active contract covers.
        CREATE TABLE contract_coverage (
            contract_id          uuid NOT NULL,
            registration_number  text NOT NULL,
            period_from          text NOT NULL,
            period_to            text NOT NULL,
            PRIMARY KEY (contract_id, registration_number)
        );
        CREATE INDEX contract_coverage_number ON contract_coverage (registration_number);
        CREATE TABLE expired_contracts (
            contract_id  uuid PRIMARY KEY
        );
        """
    )


def downgrade() -> None:
    execute_script(
        "DROP TABLE expired_contracts, contract_coverage, partners, accounts, subscribers, transfers, "
        "pin_failures, registration_numbers, product_configurations, products, configurations, "
        "deferred_jobs, inbox, outbox"
    )
