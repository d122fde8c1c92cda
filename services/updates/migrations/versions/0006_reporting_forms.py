"""DAT-2: regulated reporting forms, published like releases: each version of a form with its one file (the package
for the program), drafted, published and withdrawn by operators, found by configuration for client programs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from shared.migrate import execute_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        -- One version of a regulated reporting form (the regulator's form code, e.g. the KND code 1151001) and its
        -- file. A published or withdrawn version never changes: a fix is a new version.
        CREATE TABLE reporting_forms (
            id               uuid PRIMARY KEY,
            code             text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$'),
            version          text NOT NULL,
            version_key      integer[] NOT NULL,  -- the version's numbers: 5.9 orders before 5.10, 5.01 is 5.1
            name             text NOT NULL,
            applies_from     date NOT NULL,
            configurations   text[] NOT NULL CHECK (cardinality(configurations) >= 1),
            basis_number     text NOT NULL,  -- the regulator's order that approved the form
            basis_date       date NOT NULL,
            changes          text NOT NULL,  -- Markdown: what changed from the version before
            file_name        text NOT NULL CHECK (file_name ~ '^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$'),
            file_size        bigint NOT NULL CHECK (file_size >= 0),
            file_sha256      text NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
            uploaded_at      timestamptz,  -- NULL: the file is not in storage yet; publishing waits for it
            state            text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'published', 'withdrawn')),
            created_at       timestamptz NOT NULL,
            updated_at       timestamptz NOT NULL,
            published_at     timestamptz,
            withdrawn_at     timestamptz,
            withdrawn_reason text,
            UNIQUE (code, version),
            -- "5.01" and "5.1" are one version (compared by their numbers): a form has one of the two spellings.
            UNIQUE (code, version_key)
        );
        -- What client programs ask: the published forms of one configuration.
        CREATE INDEX reporting_forms_published ON reporting_forms USING gin (configurations)
            WHERE state = 'published';
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE reporting_forms")
