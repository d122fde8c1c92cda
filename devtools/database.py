"""The local stack's database: created on the server of ITS_DATABASE_URL when it is missing (`make run`), dropped by
`make clean` (its rows name kits, keys and files under var/, which `make clean` removes)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def admin_url(database_url: str) -> tuple[str, str]:
    """(URL of the `postgres` maintenance database on the same server, database name)."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name:
        raise SystemExit(f"no database name in ITS_DATABASE_URL={database_url!r}")
    return urlunsplit(parts._replace(path="/postgres")), name


async def create_database(database_url: str) -> bool:
    """Create the database if it is missing; True if it was created."""
    import asyncpg  # only `up` needs it: `down`/`status` run on the bare interpreter

    url, name = admin_url(database_url)
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise SystemExit(f"database: cannot connect to {url}: {exc}") from exc
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            await conn.execute(f"CREATE DATABASE {quoted}")
        except asyncpg.DuplicateDatabaseError:
            return False  # created meanwhile by someone else
        return True
    finally:
        await conn.close()


async def drop_database(database_url: str) -> bool:
    """Drop the database (its sessions ended first); True if there was one."""
    import asyncpg

    url, name = admin_url(database_url)
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise SystemExit(f"database: cannot connect to {url}: {exc}") from exc
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        await conn.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        return True
    finally:
        await conn.close()
