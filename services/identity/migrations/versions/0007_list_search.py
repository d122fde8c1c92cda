"""The partners list pages by name or by newest (services.identity.partners_store.partners_page): an index for each
order, so a page is an index range whatever the number of partners. A subscriber's users and invitations and a
partner's staff need none: their primary keys (and invitations_subscriber) already find one subscriber's or one
partner's rows, and those are few enough to sort and search at once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""

from shared.migrate import execute_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE INDEX partners_by_name ON partners (lower(name), id);
        CREATE INDEX partners_by_created ON partners (created_at, id);
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP INDEX partners_by_created;
        DROP INDEX partners_by_name;
        """
    )
