"""A contract keeps the trace context of the partner's POST that brought it (shared/tracing.py), so that at
activation, a business day later, its events continue that trace: one trace from `POST /v1/contracts` to the e-mail
sent. `receive_contract` (0005) stores it with the contract (it is a key of `p_contract`, by column name as every
column) and gives it to the processing job it schedules, whose run links to it. The function is the same otherwise;
NULL when tracing is off.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RECEIVE_CONTRACT_TRACED = """
CREATE OR REPLACE FUNCTION receive_contract(
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

    SELECT coalesce(array_agg(t.n ORDER BY t.i), '{}') INTO unknown
    FROM unnest(p_numbers) WITH ORDINALITY AS t (n, i)
    WHERE NOT EXISTS (SELECT 1 FROM numbers WHERE numbers.number = t.n);
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


def upgrade() -> None:
    op.execute("ALTER TABLE contracts ADD COLUMN trace_context jsonb")
    op.execute(RECEIVE_CONTRACT_TRACED)


def downgrade() -> None:
    # 0005's function again: the column it would copy is dropped.
    op.execute(RECEIVE_CONTRACT_UNTRACED)
    op.execute("ALTER TABLE contracts DROP COLUMN trace_context")


RECEIVE_CONTRACT_UNTRACED = """
CREATE OR REPLACE FUNCTION receive_contract(
    p_partner_id uuid,
    p_key text,
    p_fingerprint bytea,
    p_numbers text[],
    p_refused boolean,
    p_contract jsonb,       -- the row of `contracts`, by column name
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

    SELECT coalesce(array_agg(t.n ORDER BY t.i), '{}') INTO unknown
    FROM unnest(p_numbers) WITH ORDINALITY AS t (n, i)
    WHERE NOT EXISTS (SELECT 1 FROM numbers WHERE numbers.number = t.n);
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
        INSERT INTO deferred_jobs (kind, payload, run_at, dedupe_key, max_attempts)
        VALUES (p_job_kind, '{}', p_job_at, p_job_key, 10)
        ON CONFLICT (dedupe_key) DO UPDATE SET state = 'pending', attempts = 0, finished_at = NULL,
            run_at = LEAST(deferred_jobs.run_at, EXCLUDED.run_at)
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
