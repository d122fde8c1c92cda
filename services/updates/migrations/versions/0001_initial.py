"""Releases and their kits, articles, and the entitlement read model of registration's and contracts' events.

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
        -- UPD-1, UPD-2: configuration releases (configuration set) and platform releases (configuration NULL).
        -- version_key is the version's numeric parts, so that SQL orders 3.0.41.60 before 3.0.100.1.
        CREATE TABLE releases (
            id                uuid PRIMARY KEY,
            kind              text NOT NULL CHECK (kind IN ('configuration', 'platform')),
            configuration     text,
            version           text NOT NULL CHECK (version ~ '^[0-9]{1,9}(\\.[0-9]{1,9}){1,5}$'),
            version_key       integer[] NOT NULL,
            release_date      date NOT NULL,
            its_issue         text NOT NULL,
            prerelease        boolean NOT NULL DEFAULT false,
            -- configuration releases (UPD-1); Markdown sources
            whats_new         text NOT NULL DEFAULT '',
            changes           text NOT NULL DEFAULT '',
            major_changes     text[] NOT NULL DEFAULT '{}',
            update_procedure  text NOT NULL DEFAULT '',
            min_platform      text,
            updates_from      text[] NOT NULL DEFAULT '{}',
            -- platform releases (UPD-2)
            grade             text CHECK (grade IN ('recommended', 'mandatory', 'optional')),
            differences       text NOT NULL DEFAULT '',
            migration_notes   text NOT NULL DEFAULT '',
            fixed_bugs        jsonb NOT NULL DEFAULT '[]',
            readme            text NOT NULL DEFAULT '',
            state             text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'published', 'withdrawn')),
            created_at        timestamptz NOT NULL,
            updated_at        timestamptz NOT NULL,
            published_at      timestamptz,
            withdrawn_at      timestamptz,
            withdrawn_reason  text,
            CHECK ((kind = 'configuration') = (configuration IS NOT NULL)),
            CHECK (kind = 'configuration' OR grade IS NOT NULL)
        );
        CREATE UNIQUE INDEX releases_natural_key ON releases (kind, coalesce(configuration, ''), version);
        CREATE INDEX releases_published ON releases (kind, configuration, version_key) WHERE state = 'published';

        -- Distribution kits: declared with the release (name, size, sha256), uploaded afterwards. The content
        -- is stored once per sha256 (content-addressed), so one file in two releases is kept once.
        CREATE TABLE kits (
            id           uuid PRIMARY KEY,
            release_id   uuid NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
            name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$'),
            kind         text NOT NULL CHECK (kind IN ('full', 'update', 'platform', 'readme', 'other')),
            os           text,
            arch         text,
            size         bigint NOT NULL CHECK (size >= 0),
            sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
            uploaded_at  timestamptz,
            UNIQUE (release_id, name)
        );
        CREATE INDEX kits_sha256 ON kits (sha256);

        -- UPD-6: known problems and administration articles, per configuration or for the platform.
        CREATE TABLE articles (
            slug           text PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,99}$'),
            configuration  text,  -- NULL: about the platform
            kind           text NOT NULL CHECK (kind IN ('known_problem', 'administration')),
            title          text NOT NULL,
            body           text NOT NULL,  -- Markdown
            versions       text[] NOT NULL DEFAULT '{}',  -- the versions a known problem concerns
            published_at   timestamptz NOT NULL,
            updated_at     timestamptz NOT NULL
        );
        CREATE INDEX articles_configuration ON articles (configuration);

        -- Read models (registration's events): configuration names and the products that include them (offers).
        CREATE TABLE configurations (
            code        text PRIMARY KEY,
            name        text NOT NULL,
            updated_at  timestamptz NOT NULL
        );

        CREATE TABLE products (
            article         text PRIMARY KEY,
            name            text NOT NULL,
            edition         text NOT NULL,
            configurations  text[] NOT NULL,
            its_required    boolean NOT NULL
        );

        -- Read model: registered products (REG-2..5) as registration announces them; access starts at
        -- active_from (REG-3).
        CREATE TABLE registered_products (
            registration_number  text PRIMARY KEY,
            subscriber_id        uuid NOT NULL,
            subscriber_code      text NOT NULL,
            article              text NOT NULL,
            product_name         text NOT NULL,
            edition              text NOT NULL,
            configurations       text[] NOT NULL,
            its_required         boolean NOT NULL,
            purchase_date        date NOT NULL,
            active_from          timestamptz NOT NULL,
            updated_at           timestamptz NOT NULL
        );
        CREATE INDEX registered_products_subscriber ON registered_products (subscriber_id);

        -- Read model: the months each contract covers, per registration number (ITS-1, ITS-7, UPD-4).
        CREATE TABLE contract_coverage (
            contract_id          uuid NOT NULL,
            registration_number  text NOT NULL,
            period_from          text NOT NULL,
            period_to            text NOT NULL,
            PRIMARY KEY (contract_id, registration_number)
        );
        CREATE INDEX contract_coverage_number ON contract_coverage (registration_number);

        -- An expiry may overtake its activation: remembered, so the late activation adds nothing.
        CREATE TABLE expired_contracts (
            contract_id  uuid PRIMARY KEY,
            expired_at   timestamptz NOT NULL
        );
        """
    )


def downgrade() -> None:
    execute_script(
        "DROP TABLE expired_contracts, contract_coverage, registered_products, products, configurations, "
        "articles, kits, releases, deferred_jobs, inbox, outbox"
    )
