"""Signed update metadata (The Update Framework, issue 21): every version of every role's metadata as served, the
newest version of each role, and the one row whose lock makes one writer at a time across replicas.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

from shared.migrate import execute_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        -- Every version of every role (root, targets, snapshot, timestamp, platform, configuration.<code>), byte for
        -- byte as served: `<version>.<role>.json`, and the newest timestamp as `timestamp.json`. Never changed.
        CREATE TABLE tuf_metadata (
            role        text NOT NULL CHECK (role ~ '^(root|targets|snapshot|timestamp|platform)$'
                                             OR role ~ '^configuration\\.[A-Za-z][A-Za-z0-9_.-]{0,63}$'),
            version     integer NOT NULL CHECK (version >= 1),
            body        bytea NOT NULL,
            sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),  -- the body's: the ETag it is served with
            expires     timestamptz NOT NULL,
            created_at  timestamptz NOT NULL,
            PRIMARY KEY (role, version)
        );

        -- The newest version of each role: what an edit starts from, timestamp.json, and what expires when.
        CREATE TABLE tuf_roles (
            role     text PRIMARY KEY,
            version  integer NOT NULL,
            expires  timestamptz NOT NULL,
            FOREIGN KEY (role, version) REFERENCES tuf_metadata (role, version)
        );

        -- One row: every writer (publishing, withdrawing, installing a root, the renewal job) locks it first, so
        -- that versions follow one another across replicas.
        CREATE TABLE tuf_repository (
            id  boolean PRIMARY KEY DEFAULT true CHECK (id)
        );
        INSERT INTO tuf_repository (id) VALUES (true);
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE tuf_repository, tuf_roles, tuf_metadata")
