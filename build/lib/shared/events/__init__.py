"""Event envelope and versioned event schemas shared between services.

Routing key = event type, `<service>.<aggregate>.<event>`. A consumer ignores
fields it does not know; a breaking change gets a new `VERSION`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

EXCHANGE = "its.events"


class Event(BaseModel):
    """The `data` of one kind of event. Subclasses set TYPE and VERSION."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str = Field(min_length=1, max_length=200)
    version: int = Field(ge=1)
    occurred_at: datetime
    producer: str
    correlation_id: str | None = None
    causation_id: str | None = None
    data: dict[str, Any]


E = TypeVar("E", bound=Event)


def wrap(
    event: Event,
    *,
    producer: str,
    occurred_at: datetime,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> Envelope:
    return Envelope(
        type=event.TYPE,
        version=event.VERSION,
        occurred_at=occurred_at,
        producer=producer,
        correlation_id=correlation_id,
        causation_id=causation_id,
        data=event.model_dump(mode="json"),
    )


def unwrap(envelope: Envelope, model: type[E]) -> E:
    """The event's data as `model`; raises pydantic.ValidationError if it does not fit."""
    return model.model_validate(envelope.data)
