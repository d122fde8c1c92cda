"""Tables of the shared kernel (outbox, inbox, deferred jobs) that live in every service's schema.

Each service's first migration runs `KERNEL_TABLES_V1`; later changes to these
tables ship as `KERNEL_TABLES_V2`... and a migration in every service.
"""

KERNEL_TABLES_V1 = """
CREATE TABLE outbox (
    id            uuid PRIMARY KEY,
    routing_key   text NOT NULL,
    envelope      jsonb NOT NULL,
    headers       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at  timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text
);
CREATE INDEX outbox_pending ON outbox (created_at) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE TABLE inbox (
    consumer    text NOT NULL,
    event_id    uuid NOT NULL,
    event_type  text NOT NULL,
    handled_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE deferred_jobs (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL,
    payload       jsonb NOT NULL DEFAULT '{}',
    run_at        timestamptz NOT NULL,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 10 CHECK (max_attempts >= 1),
    last_error    text,
    dedupe_key    text UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at   timestamptz
);
CREATE INDEX deferred_jobs_due ON deferred_jobs (run_at) WHERE state = 'pending';
"""

# Traces (shared/tracing.py): the W3C context ({"traceparent": …}) of what scheduled a job, which its run's span
# links to. A column rather than a key of `payload`: payloads are the handler's data, copied as they are into a retry
# (notifications' next try) and written by statements that know nothing of traces (contracts' receive_contract);
# NULL, when tracing is off, costs nothing. The outbox needs no column: the context goes into its `headers`.
KERNEL_TABLES_V2 = """
ALTER TABLE deferred_jobs ADD COLUMN trace_context jsonb;
"""
KERNEL_TABLES_V2_DOWN = """
ALTER TABLE deferred_jobs DROP COLUMN trace_context;
"""
