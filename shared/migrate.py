"""Alembic per service: each service migrates its own schema with its own version table.

A service's `migrations/env.py` is one line, `run_env()`; `migrate()` is what
`python -m services.<name> migrate` calls.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.ext.asyncio import create_async_engine


def _sqlalchemy_url(database_url: str) -> str:
    scheme, rest = database_url.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme in {"postgres", "postgresql"} else database_url


def alembic_config(migrations_dir: Path, database_url: str, schema: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["database_url"] = database_url
    config.attributes["schema"] = schema
    return config


def migrate(migrations_dir: Path, database_url: str, schema: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, database_url, schema), revision)


def run_env() -> None:
    """Body of every service's migrations/env.py (online mode only)."""
    config = context.config
    schema: str = config.attributes["schema"]
    url = _sqlalchemy_url(config.attributes["database_url"])

    def run(connection: SyncConnection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        connection.execute(text(f'SET search_path TO "{schema}"'))
        connection.commit()
        context.configure(
            connection=connection,
            version_table="alembic_version",
            version_table_schema=schema,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(run)
        await engine.dispose()

    asyncio.run(main())


def execute_script(sql: str) -> None:
    """Run a multi-statement DDL script inside a migration.

    asyncpg prepares each statement, and a prepared statement holds one command, so the
    script is split on semicolons that end a line, except inside a `$$`-quoted function body (our DDL keeps no
    such semicolon in a string).
    """
    from alembic import op

    for statement in statements(sql):
        if statement.strip() and not _only_comments(statement):
            op.execute(statement)


def statements(sql: str) -> list[str]:
    """`sql` split where a line ends in a semicolon outside `$$ ... $$` (the semicolons left out)."""
    found, lines, quoted = [], list[str](), False
    for line in sql.splitlines():
        quoted ^= line.count("$$") % 2 == 1
        if not quoted and line.rstrip().endswith(";"):
            lines.append(line.rstrip()[:-1])
            found.append("\n".join(lines))
            lines = []
        else:
            lines.append(line)
    return [*found, "\n".join(lines)]


def _only_comments(statement: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in statement.splitlines())
