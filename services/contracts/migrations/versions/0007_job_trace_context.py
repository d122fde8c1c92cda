"""The kernel's tables, version 2 (shared/kernel_schema.py): a deferred job keeps the trace context that scheduled
it, so that its run links back to it (shared/tracing.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from shared.kernel_schema import KERNEL_TABLES_V2, KERNEL_TABLES_V2_DOWN
from shared.migrate import execute_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(KERNEL_TABLES_V2)


def downgrade() -> None:
    execute_script(KERNEL_TABLES_V2_DOWN)
