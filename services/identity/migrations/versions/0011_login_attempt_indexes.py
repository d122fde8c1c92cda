"""Throttling reads failures and one success: an index for each (tokens_store.failure_counts).

The index on (login, at) over every attempt made each login read all of its login's attempts of the last 30 days
(the window in which an address counts as known): a program that logs in all day read thousands of rows per login.
Failures are now found in an index of failures alone, and a known address by the first success from it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from shared.migrate import execute_script

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE INDEX login_attempts_failed ON login_attempts (login, at) WHERE NOT success;
        CREATE INDEX login_attempts_succeeded ON login_attempts (login, client_addr, at) WHERE success;
        DROP INDEX login_attempts_login;
        """
    )


def downgrade() -> None:
    execute_script(
        """
        CREATE INDEX login_attempts_login ON login_attempts (login, at);
        DROP INDEX login_attempts_failed, login_attempts_succeeded;
        """
    )
