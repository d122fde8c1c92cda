"""Deferred batches of registration numbers: a large batch is issued by a job, chunk by chunk, with its
progress; its PINs wait sealed to the requesting operator's key until they are shown, once (REG-1, REG-2).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from shared.migrate import execute_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE number_batches (
            id            uuid PRIMARY KEY,
            article       text NOT NULL REFERENCES products (article),
            with_pin      boolean NOT NULL,
            count         integer NOT NULL CHECK (count > 0),
            issued        integer NOT NULL CHECK (issued BETWEEN 0 AND count),
            state         text NOT NULL CHECK (state IN ('issuing', 'done', 'delivered', 'purged')),
            -- X25519: the chunks are sealed to it; the private half went to the operator, once.
            public_key    bytea NOT NULL,
            requested_by  uuid NOT NULL,
            created_at    timestamptz NOT NULL,
            finished_at   timestamptz,
            delivered_at  timestamptz,
            CHECK ((state = 'issuing') = (issued < count))
        );
        CREATE INDEX number_batches_done ON number_batches (finished_at) WHERE state = 'done';

        -- Each chunk's numbers and PINs, sealed (sealing.py); deleted once shown.
        CREATE TABLE sealed_numbers (
            batch_id       uuid NOT NULL REFERENCES number_batches (id),
            chunk          integer NOT NULL,
            ephemeral_key  bytea NOT NULL,
            nonce          bytea NOT NULL,
            box            bytea NOT NULL,
            PRIMARY KEY (batch_id, chunk)
        );
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE sealed_numbers, number_batches")
