"""registration's catalogue API as the operator cabinet uses it: configurations, products, and the registration
numbers issued for a product (REG-1, REG-2), small batches in the answer, large ones as a deferred batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from services.portal.clients.answers import Answer, Client, Listed, parsed
from services.portal.clients.transport import segment


class Configuration(Answer):
    """registration's ConfigurationOut."""

    mirrors = ("registration.ConfigurationOut",)

    code: str
    name: str
    maintenance_category: int  # CMS-2
    vendor: str


class Product(Answer):
    """registration's ProductOut."""

    mirrors = ("registration.ProductOut",)

    article: str
    name: str
    edition: str
    configurations: list[str]
    pin_envelope: bool
    its_required: bool


class ProductRef(Answer):
    """A product as other answers name it (registration's ProductRef and OfferedProduct, updates' OfferedProduct)."""

    mirrors = ("registration.ProductRef", "registration.OfferedProduct", "updates.OfferedProduct")

    article: str
    name: str
    edition: str


class IssuedNumber(Answer):
    mirrors = ("registration.IssuedNumber",)

    registration_number: str
    pin: str | None = None  # shown in this answer only


class IssuedBatch(Answer):
    """registration's IssuedBatch: numbers with their PINs, shown once (a small batch, or a large one's delivery)."""

    mirrors = ("registration.IssuedBatch",)

    batch_id: str
    article: str
    product_name: str
    edition: str
    items: list[IssuedNumber]


class Batch(Answer):
    """registration's BatchOut: a deferred batch's progress."""

    mirrors = ("registration.BatchOut",)

    batch_id: str
    state: str
    article: str
    product_name: str
    edition: str
    count: int
    issued: int


class BatchAccepted(Batch):
    """registration's BatchAccepted (202): with the key, shown once, that opens the batch's PINs."""

    mirrors = ("registration.BatchAccepted",)

    key: str


# The most configurations a form offers to choose from (registration's largest page).
CHOICES = 1000


class Catalogue(Client):
    async def configurations(self, token: str) -> list[Configuration]:
        """The configurations a form offers (by name; the first CHOICES of them)."""
        query = urlencode({"sort": "name", "limit": CHOICES})
        return (await self.get(Listed[Configuration], "/v1/configurations?" + query, token)).items

    async def configuration_page(self, token: str, query: Mapping[str, str]) -> Listed[Configuration]:
        """A page of configurations (`query`: q, sort, limit, cursor)."""
        return await self.get(Listed[Configuration], "/v1/configurations?" + urlencode(query), token)

    async def product_page(self, token: str, query: Mapping[str, str]) -> Listed[Product]:
        """A page of products (`query`: q, edition, configuration, sort, limit, cursor)."""
        return await self.get(Listed[Product], "/v1/products?" + urlencode(query), token)

    async def product(self, token: str, article: str) -> Product:
        return await self.get(Product, f"/v1/products/{segment(article)}", token)

    async def put_configuration(self, token: str, code: str, body: dict[str, Any]) -> None:
        await self.service.call("PUT", f"/v1/configurations/{segment(code)}", token=token, json_body=body)

    async def put_product(self, token: str, article: str, body: dict[str, Any]) -> None:
        await self.service.call("PUT", f"/v1/products/{segment(article)}", token=token, json_body=body)

    async def issue_numbers(self, token: str, article: str, body: dict[str, Any]) -> IssuedBatch | BatchAccepted:
        """Up to 1,000 numbers in the answer (201); more as a deferred batch with its key (202)."""
        path = f"/v1/products/{segment(article)}/registration-numbers"
        answer = await self.service.call("POST", path, token=token, json_body=body)
        if isinstance(answer, dict) and "key" in answer and "items" not in answer:
            return parsed(self.service.name, BatchAccepted, answer)
        return parsed(self.service.name, IssuedBatch, answer)

    async def batch(self, token: str, batch_id: str) -> Batch:
        return await self.get(Batch, f"/v1/number-batches/{batch_id}", token)

    async def deliver_batch(self, token: str, batch_id: str, key: str) -> IssuedBatch:
        """A done batch's numbers with their PINs, once: registration deletes them with this answer."""
        path = f"/v1/number-batches/{batch_id}/delivery"
        return await self.send(IssuedBatch, "POST", path, token, {"key": key})
