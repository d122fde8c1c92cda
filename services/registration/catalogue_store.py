"""The catalogue's lists as operators page through them (catalogue_api.py): searched, filtered and sorted, one
keyset page at a time, each order on its index (migration 0004). Every function takes its caller's connection."""

from __future__ import annotations

from typing import Any

from services.registration.domain import CatalogueListing
from services.registration.store import Configuration, Product
from shared.db import Connection

# sort → (its key's columns, the order); the key's last column is unique, so "after the key" is exact.
CONFIGURATION_SORTS = {"code": ("(code, code)", "code"), "name": ("(name, code)", "name, code")}
PRODUCT_SORTS = {
    "name": ("(p.name, p.article)", "p.name, p.article"),
    "article": ("(p.article, p.article)", "p.article"),
}


def _literal(text: str) -> str:
    """`text` inside a LIKE pattern, its own %, _ and \\ taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _Where:
    """Conditions with their numbered parameters."""

    def __init__(self) -> None:
        self.args: list[Any] = []
        self.conditions: list[str] = ["true"]

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def sql(self) -> str:
        return " AND ".join(self.conditions)


async def configurations_page(conn: Connection, listing: CatalogueListing, limit: int) -> list[Configuration]:
    where = _Where()
    if listing.q is not None:
        like = where.arg(f"%{_literal(listing.q)}%")
        where.conditions.append(f"(code ILIKE {like} OR name ILIKE {like})")
    key, order = CONFIGURATION_SORTS[listing.sort]
    if listing.after is not None:
        where.conditions.append(f"{key} > ({where.arg(listing.after[0])}::text, {where.arg(listing.after[1])}::text)")
    rows = await conn.fetch(
        "SELECT code, name, maintenance_category, vendor FROM configurations "
        f"WHERE {where.sql()} ORDER BY {order} LIMIT {where.arg(limit)}",
        *where.args,
    )
    return [Configuration(**dict(row)) for row in rows]


async def products_page(conn: Connection, listing: CatalogueListing, limit: int) -> list[Product]:
    where = _Where()
    if listing.q is not None:
        like, prefix = where.arg(f"%{_literal(listing.q)}%"), where.arg(f"{_literal(listing.q)}%")
        where.conditions.append(f"(p.name ILIKE {like} OR p.article LIKE {prefix})")
    if listing.edition is not None:
        where.conditions.append(f"p.edition = {where.arg(listing.edition)}")
    if listing.configuration is not None:
        where.conditions.append(
            "EXISTS (SELECT 1 FROM product_configurations c WHERE c.article = p.article "
            f"AND c.configuration_code = {where.arg(listing.configuration)})"
        )
    key, order = PRODUCT_SORTS[listing.sort]
    if listing.after is not None:
        where.conditions.append(f"{key} > ({where.arg(listing.after[0])}::text, {where.arg(listing.after[1])}::text)")
    rows = await conn.fetch(
        "SELECT p.article, p.name, p.edition, p.pin_envelope, p.its_required, "
        "COALESCE((SELECT array_agg(pc.configuration_code ORDER BY pc.configuration_code) "
        "  FROM product_configurations pc WHERE pc.article = p.article), '{}') AS configurations "
        f"FROM products p WHERE {where.sql()} ORDER BY {order} LIMIT {where.arg(limit)}",
        *where.args,
    )
    return [Product(**{**dict(row), "configurations": list(row["configurations"])}) for row in rows]
