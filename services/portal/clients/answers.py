"""The base of the portal-side models of the services' answers.

Each model mirrors, field for field, the part of a service's OpenAPI response schema that the portal reads
(written here, not imported: the portal does not import service packages), and names that schema in `mirrors`;
tests/unit/test_portal_clients_match_openapi.py holds the two to agreement. Ids and instants stay the strings
the JSON carries: the portal only shows them (`pages.base.moment` formats an instant), it never computes
with them, and a page shows exactly what the service said.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from services.portal.clients.transport import Service, ServiceDown
from shared.logging import get_logger

log = get_logger(__name__)

A = TypeVar("A", bound="Answer")
T = TypeVar("T")


class Answer(BaseModel):
    """A service's answer as the portal reads it; fields the portal does not read are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    # The response schemas this model reads, as "service.Schema" (one model may read several alike); every
    # model says its own, () where no schema describes it (the test says why).
    mirrors: ClassVar[tuple[str, ...]]


class Listed(Answer, Generic[T]):
    """A list answer: `items`, and on a paged list the cursor of the next page (None: the last)."""

    mirrors = ()  # the shape of every list; its items are checked as their own model

    items: list[T]
    next_cursor: str | None = None


def parsed(service: str, model: type[A], body: Any) -> A:
    """`body` as `model`; an answer of another shape is the service failing (the friendly 503 page)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        log.warning("service.unexpected_answer", service=service, model=model.__name__, error=str(exc))
        raise ServiceDown(service) from None


class Client:
    """One service's API: its calls with the user's token, each answer read as its model."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def get(self, model: type[A], path: str, token: str) -> A:
        return parsed(self.service.name, model, await self.service.call("GET", path, token=token))

    async def send(
        self, model: type[A], method: str, path: str, token: str, body: Mapping[str, Any] | None = None
    ) -> A:
        answer = await self.service.call(method, path, token=token, json_body=body)
        return parsed(self.service.name, model, answer)
