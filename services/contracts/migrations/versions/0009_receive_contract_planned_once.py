"""`receive_contract` (0005, 0008) looks the posted registration numbers up one at a time, each lookup a plan kept
for the session, instead of in one anti-join over `unnest(p_numbers)` (issue 19).

PL/pgSQL keeps a plan per statement and, after five calls, uses its generic plan only if that is estimated no dearer
than the plans made for the actual values. For the anti-join the generic plan guesses 100 elements in the array
against the 2 or 3 a contract has, so it never looked cheaper: the statement was planned again on every call, and
planning it cost more than running it. The contract's PostgreSQL CPU per call, one session, 1,500 calls alternating:
540-617 us before, 353-363 us after (bench/RESULTS.md). A lookup by key has one plan whatever the number, which is
kept. The outcome is the same, the unknown numbers still in the order given.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# 0008's function with the numbers' check in place of the marker.
RECEIVE_CONTRACT = """CREATE OR REPLACE FUNCTION receive_contract(
    p_partner_id uuid,
    p_key text,
    p_fingerprint bytea,
    p_numbers text[],
    p_refused boolean,
    p_contract jsonb,       -- the row of `contracts`, by column name (its trace_context too)
    p_job_kind text,        -- the processing job (services/contracts/processing.py schedule_processing)
    p_job_key text,
    p_job_at timestamptz,
    p_event_id uuid,        -- the outbox row (shared/outbox.py Outbox.add_many), without its NOTIFY (below)
    p_event_type text,
    p_envelope jsonb,
    p_headers jsonb,
    p_status integer,       -- the answer kept for the key
    p_answer jsonb,
    p_now timestamptz
) RETURNS TABLE (r_outcome text, r_status integer, r_response jsonb, r_unknown text[])
LANGUAGE plpgsql AS $$
DECLARE
    stored idempotency_keys;
    unknown text[];
    added contracts;
    asked text;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('idempotency:' || p_partner_id::text || ':' || p_key, 0)) THEN
        RETURN QUERY SELECT 'busy', NULL::integer, NULL::jsonb, NULL::text[];
        RETURN;
    END IF;
    SELECT * INTO stored FROM idempotency_keys k WHERE k.partner_id = p_partner_id AND k.key = p_key;
    IF FOUND THEN
        IF stored.fingerprint <> p_fingerprint THEN
            RETURN QUERY SELECT 'key-reused', NULL::integer, NULL::jsonb, NULL::text[];
        ELSE
            RETURN QUERY SELECT 'replayed', stored.status, stored.response, NULL::text[];
        END IF;
        RETURN;
    END IF;

    -- NUMBERS_UNKNOWN
    IF p_refused OR cardinality(unknown) > 0 THEN
        RETURN QUERY SELECT 'refused', NULL::integer, NULL::jsonb, unknown;
        RETURN;
    END IF;

    INSERT INTO contracts SELECT * FROM jsonb_populate_record(NULL::contracts, p_contract)
    ON CONFLICT (partner_id, number) DO NOTHING
    RETURNING * INTO added;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'number-taken', NULL::integer, NULL::jsonb, NULL::text[];
        RETURN;
    END IF;
    INSERT INTO contract_numbers (contract_id, registration_number, is_main)
    SELECT added.id, n, n = added.main_number FROM unnest(added.main_number || added.additional_numbers) AS n;

    -- One job per moment, re-armed if it ran already; a pending one is only read, so that the day's POSTs do not
    -- queue behind one job row (shared/jobs.py job_pending, schedule with rearm).
    IF NOT EXISTS (
        SELECT 1 FROM deferred_jobs j WHERE j.dedupe_key = p_job_key AND j.state = 'pending' AND j.run_at <= p_job_at
    ) THEN
        -- The job keeps the trace context of the contract that scheduled it (shared/jobs.py schedule).
        INSERT INTO deferred_jobs (kind, payload, run_at, dedupe_key, max_attempts, trace_context)
        VALUES (p_job_kind, '{}', p_job_at, p_job_key, 10, nullif(p_contract->'trace_context', 'null'))
        ON CONFLICT (dedupe_key) DO UPDATE SET state = 'pending', attempts = 0, finished_at = NULL,
            run_at = LEAST(deferred_jobs.run_at, EXCLUDED.run_at), trace_context = EXCLUDED.trace_context
        WHERE deferred_jobs.state <> 'pending';
    END IF;

    INSERT INTO outbox (id, routing_key, envelope, headers, created_at)
    VALUES (p_event_id, p_event_type, p_envelope, p_headers, clock_timestamp());

    INSERT INTO idempotency_keys (partner_id, key, fingerprint, status, response, created_at)
    VALUES (p_partner_id, p_key, p_fingerprint, p_status, p_answer, p_now);
    RETURN QUERY SELECT 'accepted', p_status, p_answer, NULL::text[];
END
$$
"""

NUMBERS_LOOKED_UP_ONE_AT_A_TIME = """    unknown := '{}';
    FOREACH asked IN ARRAY p_numbers LOOP
        IF NOT EXISTS (SELECT 1 FROM numbers WHERE numbers.number = asked) THEN
            unknown := unknown || asked;
        END IF;
    END LOOP;
"""

# 0008's check: planned again on every call.
NUMBERS_IN_ONE_ANTI_JOIN = """    SELECT coalesce(array_agg(t.n ORDER BY t.i), '{}') INTO unknown
    FROM unnest(p_numbers) WITH ORDINALITY AS t (n, i)
    WHERE NOT EXISTS (SELECT 1 FROM numbers WHERE numbers.number = t.n);
"""

MARKER = "    -- NUMBERS_UNKNOWN\n"


def upgrade() -> None:
    op.execute(RECEIVE_CONTRACT.replace(MARKER, NUMBERS_LOOKED_UP_ONE_AT_A_TIME))


def downgrade() -> None:
    op.execute(RECEIVE_CONTRACT.replace(MARKER, NUMBERS_IN_ONE_ANTI_JOIN))
