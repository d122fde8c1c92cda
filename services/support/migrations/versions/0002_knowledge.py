"""SUP-2, the knowledge base: one searchable row per question (its subject, its body and every message's) and per
article of updates (UPD-6, from its events), with a stored tsvector in both the `russian` and the `english`
configurations, and the words seen, for "did you mean" (pg_trgm).

The extensions go into support's schema (the first of the migration's search_path), where support's queries find
their functions and operator classes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-11
"""

from shared.migrate import execute_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        -- btree_gin: one GIN index on (subscriber, words), so a search intersects the subscriber's posting list
        -- with the words' instead of reading every subscriber's matches.
        CREATE EXTENSION IF NOT EXISTS btree_gin;

        CREATE TABLE knowledge (
            kind              text NOT NULL CHECK (kind IN ('question', 'article')),
            key               text NOT NULL,  -- a question's id, an article's slug
            subscriber_id     uuid,           -- a question's subscriber; NULL for an article (everyone's)
            asker_account_id  uuid,
            shared            boolean NOT NULL DEFAULT false,
            configuration     text,
            title             text NOT NULL,
            body              text NOT NULL,  -- plain text (the Markdown's words), for the snippet
            at                timestamptz NOT NULL,  -- asked, or the article's last change
            updated_at        timestamptz NOT NULL,
            document          tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('russian'::regconfig, title), 'A')
                || setweight(to_tsvector('english'::regconfig, title), 'A')
                || setweight(to_tsvector('russian'::regconfig, body), 'B')
                || setweight(to_tsvector('english'::regconfig, body), 'B')
            ) STORED,
            PRIMARY KEY (kind, key),
            CHECK ((kind = 'question') = (subscriber_id IS NOT NULL))
        );
        CREATE INDEX knowledge_questions ON knowledge USING gin (subscriber_id, document) WHERE kind = 'question';
        CREATE INDEX knowledge_articles ON knowledge USING gin (document) WHERE kind = 'article';

        -- An article's withdrawal, remembered: a save announced before it and delivered after it adds nothing.
        CREATE TABLE knowledge_withdrawn (
            slug          text PRIMARY KEY,
            withdrawn_at  timestamptz NOT NULL
        );

        -- The words of every title and body, lower case: the vocabulary a misspelled word is corrected from. A
        -- correction is offered only when it finds something the caller may see (knowledge.py).
        CREATE TABLE knowledge_words (
            word  text PRIMARY KEY
        );
        CREATE INDEX knowledge_words_trigrams ON knowledge_words USING gin (word gin_trgm_ops);

        -- The questions asked before: their subject and bodies as written (Markdown marks and all).
        INSERT INTO knowledge (kind, key, subscriber_id, asker_account_id, shared, configuration, title, body, at,
                               updated_at)
        SELECT 'question', q.id::text, q.subscriber_id, q.asker_account_id, q.shared, q.configuration, q.subject,
               q.body || coalesce((SELECT string_agg(m.body, E'\\n' ORDER BY m.created_at, m.id) FROM messages m
                                   WHERE m.question_id = q.id), ''),
               q.asked_at, q.updated_at
        FROM questions q;
        INSERT INTO knowledge_words (word)
        SELECT DISTINCT lower(w) FROM knowledge, regexp_split_to_table(title || ' ' || body, '[^[:alnum:]]+') AS w
        WHERE length(w) BETWEEN 3 AND 40 ON CONFLICT DO NOTHING;
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE knowledge_words, knowledge_withdrawn, knowledge")
