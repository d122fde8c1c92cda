"""Exchange rates (DAT-1): the currencies, every import of a rates file, the rate of each currency on each day it was
set for, and the history of every correction of a stored day.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from shared.migrate import execute_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE currencies (
            char_code  text PRIMARY KEY CHECK (char_code ~ '^[A-Z]{3}$'),  -- ISO 4217: USD
            num_code   text NOT NULL CHECK (num_code ~ '^[0-9]{3}$'),      -- 840
            name       text NOT NULL                                       -- as the bank names it
        );

        -- One row per file imported (by an operator or the daily fetch); `changed` imports are what the rates' ETag
        -- is made from: the newest one is the stamp of the rates' last change.
        CREATE TABLE rate_imports (
            id              bigserial PRIMARY KEY,
            source          text NOT NULL,          -- the file's name or URL
            format          text NOT NULL,
            sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
            imported_at     timestamptz NOT NULL,
            days            integer NOT NULL,
            currencies      integer NOT NULL,
            rows_added      integer NOT NULL,
            rows_corrected  integer NOT NULL,
            rows_unchanged  integer NOT NULL
        );
        CREATE INDEX rate_imports_changed ON rate_imports (id) WHERE rows_added + rows_corrected > 0;

        -- The bank's rate: `nominal` units of `currency` cost `value` roubles on `day` (the day it is set for; the
        -- bank publishes business days only). Exact: numeric, as the file wrote it. The primary key serves the
        -- client's reads, one currency's days in order.
        CREATE TABLE exchange_rates (
            currency   text NOT NULL REFERENCES currencies,
            day        date NOT NULL CHECK (day >= DATE '1991-01-01'),
            nominal    integer NOT NULL CHECK (nominal > 0),
            value      numeric NOT NULL CHECK (value > 0),
            import_id  bigint NOT NULL REFERENCES rate_imports,  -- the import that set it as it is now
            PRIMARY KEY (currency, day)
        );

        -- A stored day that a later file gave otherwise: what it was, what it became, when and by which import.
        CREATE TABLE exchange_rate_corrections (
            id            bigserial PRIMARY KEY,
            currency      text NOT NULL,
            day           date NOT NULL,
            old_nominal   integer NOT NULL,
            old_value     numeric NOT NULL,
            new_nominal   integer NOT NULL,
            new_value     numeric NOT NULL,
            corrected_at  timestamptz NOT NULL,
            import_id     bigint NOT NULL REFERENCES rate_imports,
            FOREIGN KEY (currency, day) REFERENCES exchange_rates
        );
        CREATE INDEX exchange_rate_corrections_day ON exchange_rate_corrections (currency, day);
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE exchange_rate_corrections, exchange_rates, rate_imports, currencies")
