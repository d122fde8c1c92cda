"""Throttling's read (tokens_store.failure_counts) as a function whose statement keeps its generic plan (issue 19).

As a prepared statement it was planned again on every login: after five calls PostgreSQL uses a statement's generic
plan only if that is estimated no dearer than plans for the actual values, and for its ranges on `at` the generic
plan guesses a third of the table. Planning cost more than the read: 325-340 us of PostgreSQL's CPU a call, 90 us as
this function, whose `SET plan_cache_mode` keeps the generic plan, an index scan whatever the values
(bench/RESULTS.md). The same read, the same answers.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from shared.migrate import execute_script

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE FUNCTION login_failure_counts(
            p_login text,
            p_client_addr text,
            p_pair_since timestamptz,     -- failures of this login from this address
            p_login_since timestamptz,    -- failures of this login
            p_known_since timestamptz,    -- a success of this login from this address: the address is known
            p_address_since timestamptz   -- failures from this address
        ) RETURNS TABLE (
            pair bigint, pair_oldest timestamptz, login bigint, login_oldest timestamptz,
            address bigint, address_oldest timestamptz, address_is_known boolean
        )
        LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
        BEGIN
            RETURN QUERY
            WITH by_login AS (
                SELECT
                  count(*) FILTER (WHERE a.client_addr = p_client_addr AND a.at > p_pair_since),
                  min(a.at)  FILTER (WHERE a.client_addr = p_client_addr AND a.at > p_pair_since),
                  count(*) FILTER (WHERE a.at > p_login_since),
                  min(a.at)  FILTER (WHERE a.at > p_login_since)
                FROM login_attempts a
                WHERE a.login = p_login AND NOT a.success AND a.at > least(p_pair_since, p_login_since)
            ), by_address AS (
                SELECT count(*), min(a.at)
                FROM login_attempts a WHERE a.client_addr = p_client_addr AND NOT a.success AND a.at > p_address_since
            ), known AS (
                -- One row is enough: a program logging in all day has thousands of successes in the window.
                SELECT EXISTS (
                  SELECT 1 FROM login_attempts a
                  WHERE a.login = p_login AND a.client_addr = p_client_addr AND a.success AND a.at > p_known_since
                )
            )
            SELECT * FROM by_login, by_address, known;
        END
        $$;
        """
    )


def downgrade() -> None:
    execute_script("DROP FUNCTION login_failure_counts")
