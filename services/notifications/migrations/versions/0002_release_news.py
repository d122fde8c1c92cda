"""Release news (UPD-1, UPD-2, UPD-3): read models of owners and their registered configurations, per-account
preferences, one delivery per (event, account), the unsubscribe link a delivery carries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from shared.migrate import execute_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        -- One event may now ask for an e-mail to each of many accounts (release news): once per (event, account).
        -- account_id is NULL for the e-mails of one event to one address, which stay one per event.
        ALTER TABLE deliveries ADD COLUMN account_id uuid;
        -- RFC 8058: the one-click unsubscribe link the mailer puts in List-Unsubscribe (release news only).
        ALTER TABLE deliveries ADD COLUMN unsubscribe_url text;
        ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_id_key;
        CREATE UNIQUE INDEX deliveries_once ON deliveries (event_id, account_id) NULLS NOT DISTINCT;

        -- Read model of identity's accounts (identity.account.registered, identity.email.verified).
        -- Each part keeps the time of the event it came from: an older event never overwrites a newer one.
        CREATE TABLE accounts (
            id          uuid PRIMARY KEY,
            login       text,
            full_name   text,
            language    text NOT NULL DEFAULT 'en',
            profile_at  timestamptz,
            email       text,
            email_at    timestamptz
        );

        -- Read model of identity's subscribers and their owners (SUB-1; identity.subscriber.created/renamed).
        -- owner_account_id is NULL while only a rename has arrived.
        CREATE TABLE subscribers (
            id                uuid PRIMARY KEY,
            code              text NOT NULL,
            name              text NOT NULL,
            name_at           timestamptz NOT NULL,
            owner_account_id  uuid
        );

        -- Read model of registration's products: which subscriber holds which configurations from when
        -- (REG-3, REG-6; registration.product.registered/activated/transferred), keyed by the number.
        CREATE TABLE registered_products (
            registration_number  text PRIMARY KEY,
            subscriber_id        uuid NOT NULL,
            configurations       text[] NOT NULL,
            active_from          timestamptz NOT NULL,
            updated_at           timestamptz NOT NULL
        );
        -- The subscribers registered for one configuration (a configuration release's recipients).
        CREATE INDEX registered_products_configurations ON registered_products USING gin (configurations);

        -- What each account wants to receive; no row: the defaults (release news on).
        CREATE TABLE preferences (
            account_id    uuid PRIMARY KEY,
            release_news  boolean NOT NULL,
            updated_at    timestamptz NOT NULL
        );

        -- Each release is announced once, whichever event (a republished one, a second publish) brings it.
        CREATE TABLE release_announcements (
            release_id    uuid PRIMARY KEY,
            event_id      uuid NOT NULL,
            kind          text NOT NULL,
            configuration text,
            version       text NOT NULL,
            recipients    integer NOT NULL DEFAULT 0,
            announced_at  timestamptz NOT NULL
        );
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP TABLE release_announcements, preferences, registered_products, subscribers, accounts;
        DELETE FROM deliveries WHERE account_id IS NOT NULL;
        DROP INDEX deliveries_once;
        ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_id_key UNIQUE (event_id);
        ALTER TABLE deliveries DROP COLUMN unsubscribe_url;
        ALTER TABLE deliveries DROP COLUMN account_id;
        """
    )
