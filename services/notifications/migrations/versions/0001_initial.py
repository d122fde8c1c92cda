"""Kernel tables and the delivery log.

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
        CREATE TABLE deliveries (
            id          bigserial PRIMARY KEY,
            -- One e-mail per event: a redelivered or republished event finds its row here.
            event_id    uuid NOT NULL UNIQUE,
            event_type  text NOT NULL,
            recipient   text NOT NULL,
            template    text NOT NULL,
            language    text NOT NULL,
            subject     text NOT NULL,
            body_text   text NOT NULL,
            body_html   text NOT NULL,
            status      text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sent', 'retrying', 'failed')),
            attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            last_error  text,
            created_at  timestamptz NOT NULL,
            sent_at     timestamptz,
            CHECK ((status = 'sent') = (sent_at IS NOT NULL))
        );
        -- The operator's filters, newest first (keyset pagination on id).
        CREATE INDEX deliveries_recipient ON deliveries (lower(recipient), id DESC);
        CREATE INDEX deliveries_status ON deliveries (status, id DESC);
        """
    )


def downgrade() -> None:
    # One statement per line: execute_script splits at the semicolons that end a line.
    execute_script(
        """
        DROP TABLE deliveries;
        DROP TABLE deferred_jobs;
        DROP TABLE inbox;
        DROP TABLE outbox;
        """
    )
