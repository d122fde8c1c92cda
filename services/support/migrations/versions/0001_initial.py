"""Questions and feedback with their messages, attachments and ratings (SUP-1), and the read models of
registration's, contracts' and identity's events that decide who may ask and who answers.

Revision ID: 0001
Revises:
Create Date: 2026-12-10
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
        -- Read model (registration's events): the subscribers' registered products; access starts at active_from.
        CREATE TABLE registered_products (
            registration_number  text PRIMARY KEY,
            subscriber_id        uuid NOT NULL,
            subscriber_code      text NOT NULL,
            product_name         text NOT NULL,
            edition              text NOT NULL,
            configurations       text[] NOT NULL,
            its_required         boolean NOT NULL,
            purchase_date        date NOT NULL,
            active_from          timestamptz NOT NULL,
            updated_at           timestamptz NOT NULL
        );
        CREATE INDEX registered_products_subscriber ON registered_products (subscriber_id);

        -- Read model (contracts' events): each activated contract's numbers, months and accompanying partner.
        CREATE TABLE contract_numbers (
            contract_id          uuid NOT NULL,
            registration_number  text NOT NULL,
            partner_id           uuid NOT NULL,
            partner_name         text NOT NULL DEFAULT '',
            period_from          text NOT NULL,
            period_to            text NOT NULL,
            PRIMARY KEY (contract_id, registration_number)
        );
        CREATE INDEX contract_numbers_number ON contract_numbers (registration_number);

        -- An expiry may overtake its activation: remembered, so the late activation adds nothing.
        CREATE TABLE expired_contracts (
            contract_id  uuid PRIMARY KEY,
            expired_at   timestamptz NOT NULL
        );

        -- Read model (identity's events): partners' names, shown as who answers.
        CREATE TABLE partners (
            id    uuid PRIMARY KEY,
            name  text NOT NULL
        );

        -- SUP-1: a question to the consulting line (a partner or the vendor) or feedback to the vendor.
        CREATE TABLE questions (
            id                  uuid PRIMARY KEY,
            kind                text NOT NULL CHECK (kind IN ('consulting', 'feedback')),
            subscriber_id       uuid NOT NULL,
            subscriber_code     text NOT NULL,
            asker_account_id    uuid NOT NULL,
            asker_login         text NOT NULL DEFAULT '',
            subject             text NOT NULL,
            body                text NOT NULL,  -- Markdown
            registration_number text,
            configuration       text,
            version             text,
            platform_version    text,
            routed_kind         text NOT NULL CHECK (routed_kind IN ('partner', 'vendor')),
            partner_id          uuid,
            routed_name         text NOT NULL,
            state               text NOT NULL CHECK (state IN ('new', 'in_progress', 'waiting_for_customer',
                                                               'answered', 'closed')),
            shared              boolean NOT NULL DEFAULT false,
            assigned_to         uuid,
            asked_at            timestamptz NOT NULL,
            first_response_due  timestamptz NOT NULL,
            first_response_at   timestamptz,
            overdue_at          timestamptz,
            closed_at           timestamptz,
            rating              smallint CHECK (rating BETWEEN 1 AND 5),
            rating_comment      text,
            rated_at            timestamptz,
            updated_at          timestamptz NOT NULL,
            CHECK ((routed_kind = 'partner') = (partner_id IS NOT NULL))
        );
        -- A subscriber's questions and one asker's, newest first (keyset).
        CREATE INDEX questions_subscriber ON questions (subscriber_id, asked_at DESC, id DESC);
        CREATE INDEX questions_asker ON questions (asker_account_id, subscriber_id, asked_at DESC, id DESC);
        -- The queues: a partner's, and the vendor's (consulting line and feedback), oldest due first.
        CREATE INDEX questions_partner_queue ON questions (partner_id, first_response_due, id)
            WHERE routed_kind = 'partner';
        CREATE INDEX questions_vendor_queue ON questions (first_response_due, id) WHERE routed_kind = 'vendor';
        CREATE INDEX questions_asked_at ON questions (asked_at);

        CREATE TABLE messages (
            id                 uuid PRIMARY KEY,
            question_id        uuid NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
            author_account_id  uuid NOT NULL,
            author_login       text NOT NULL DEFAULT '',
            side               text NOT NULL CHECK (side IN ('customer', 'staff')),
            body               text NOT NULL,  -- Markdown
            minutes_spent      integer CHECK (minutes_spent BETWEEN 0 AND 100000),
            asks_for_details   boolean NOT NULL DEFAULT false,
            created_at         timestamptz NOT NULL
        );
        CREATE INDEX messages_question ON messages (question_id, created_at, id);

        -- Attachments are stored by content (sha256) in the shared content storage; a name once per question.
        CREATE TABLE attachments (
            question_id   uuid NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
            name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$'),
            content_type  text NOT NULL,
            size          bigint NOT NULL CHECK (size >= 0),
            sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
            uploaded_by   uuid NOT NULL,
            side          text NOT NULL CHECK (side IN ('customer', 'staff')),
            uploaded_at   timestamptz NOT NULL,
            PRIMARY KEY (question_id, name)
        );
        """
    )


def downgrade() -> None:
    execute_script(
        "DROP TABLE attachments, messages, questions, partners, expired_contracts, contract_numbers, "
        "registered_products, deferred_jobs, inbox, outbox"
    )
