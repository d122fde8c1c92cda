"""The catalogue's lists page by keyset in the order operators read them: configurations by name, products by
name, products of one configuration; each one index walk per page, however large the catalogue grows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from shared.migrate import execute_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE INDEX configurations_name ON configurations (name, code);
        CREATE INDEX products_name ON products (name, article);
        CREATE INDEX product_configurations_configuration ON product_configurations (configuration_code, article);
        """
    )


def downgrade() -> None:
    execute_script("DROP INDEX product_configurations_configuration, products_name, configurations_name")
