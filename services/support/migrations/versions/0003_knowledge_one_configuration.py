"""SUP-2: the knowledge base's words in the `russian` configuration only. It stems words in Cyrillic with the
Russian Snowball stemmer and words in Latin letters with the English one (with the English stop words): both
languages in one tsvector. The second, `english`, tsvector added nothing a search could find (only the Russian words
unstemmed) and doubled what every search ranks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-12
"""

from shared.migrate import execute_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        -- Dropping the column drops the two indexes on it.
        ALTER TABLE knowledge DROP COLUMN document;
        ALTER TABLE knowledge ADD COLUMN document tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('russian'::regconfig, title), 'A')
            || setweight(to_tsvector('russian'::regconfig, body), 'B')
        ) STORED;
        CREATE INDEX knowledge_questions ON knowledge USING gin (subscriber_id, document) WHERE kind = 'question';
        CREATE INDEX knowledge_articles ON knowledge USING gin (document) WHERE kind = 'article';
        """
    )


def downgrade() -> None:
    execute_script(
        """
        ALTER TABLE knowledge DROP COLUMN document;
        ALTER TABLE knowledge ADD COLUMN document tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('russian'::regconfig, title), 'A')
            || setweight(to_tsvector('english'::regconfig, title), 'A')
            || setweight(to_tsvector('russian'::regconfig, body), 'B')
            || setweight(to_tsvector('english'::regconfig, body), 'B')
        ) STORED;
        CREATE INDEX knowledge_questions ON knowledge USING gin (subscriber_id, document) WHERE kind = 'question';
        CREATE INDEX knowledge_articles ON knowledge USING gin (document) WHERE kind = 'article';
        """
    )
