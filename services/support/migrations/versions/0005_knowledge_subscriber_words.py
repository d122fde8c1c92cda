"""SUP-2: the questions' index keyed by subscriber and word together.

The GIN index on (subscriber_id, document) intersected the subscriber's posting list with each word's, and a word
of the domain is in one question in seven of every subscriber's: a search decoded most of a posting list of a
hundred thousand rows to find the few of one subscriber (0.8-1 ms of a 1 ms statement, 1,000,000 questions). Here
each word is indexed under the subscriber's tag (`subscriber_words`), so a word's posting list holds that
subscriber's questions only and a search reads a few entries.

- `subscriber_tag`: eight hex digits of the subscriber id's MD5, a prefix of fixed length (so no tagged word of one
  subscriber can be another's). Two subscribers that share a tag only share entries: the query still filters on
  `subscriber_id`.
- `subscriber_words`: the tag itself (every question of the subscriber: what a query with nothing to look up in an
  index, only negations, needs) and the tag before every word of the document, without positions or weights.
- `subscriber_query`: what the query needs of those words, a superset of its matches: `querytree` leaves out the
  negations, phrases become AND (the index has no positions), weights are dropped; the tag alone where nothing is
  left. The exact match stays `document @@ query`, checked on the rows the index finds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from shared.migrate import execute_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        r"""
        CREATE FUNCTION subscriber_tag(subscriber uuid) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            RETURN left(md5(subscriber::text), 8);

        CREATE FUNCTION subscriber_words(subscriber uuid, document tsvector) RETURNS tsvector
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            RETURN array_to_tsvector(
                subscriber_tag(subscriber)
                || ARRAY(SELECT subscriber_tag(subscriber) || word FROM unnest(tsvector_to_array(document)) AS word)
            );

        -- In a tsquery's text a word is quoted (an inner quote doubled) and may be followed by :* (a prefix) and
        -- weights; operators stand between spaces, and a word holds no space. Not STRICT: then the planner inlines
        -- it into each search (a SQL function called costs a search 0.03 ms more; NULL gives NULL all the same).
        CREATE FUNCTION subscriber_query(subscriber uuid, query tsquery) RETURNS tsquery
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            RETURN CASE querytree(query)
                WHEN 'T' THEN subscriber_tag(subscriber)::tsquery
                ELSE regexp_replace(
                    regexp_replace(querytree(query), ' <(\d+|-)> ', ' & ', 'g'),
                    '''((?:[^'']|'''')*)''(?:(:\*)[A-D]*|:[A-D]+)?',
                    '''' || subscriber_tag(subscriber) || '\1''\2',
                    'g'
                )::tsquery
            END;

        DROP INDEX knowledge_questions;
        CREATE INDEX knowledge_questions ON knowledge USING gin (subscriber_words(subscriber_id, document))
            WHERE kind = 'question';
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP INDEX knowledge_questions;
        CREATE INDEX knowledge_questions ON knowledge USING gin (subscriber_id, document) WHERE kind = 'question';
        DROP FUNCTION subscriber_query(uuid, tsquery);
        DROP FUNCTION subscriber_words(uuid, tsvector);
        DROP FUNCTION subscriber_tag(uuid);
        """
    )
