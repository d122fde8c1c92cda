"""The one mapping from records to answers: a response model's fields that a record has are taken from it by
name; the rest (rendered HTML, links, entitlements) are given."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def answer(model: type[M], record: object, **given: Any) -> M:
    fields = {name: getattr(record, name) for name in model.model_fields if name not in given and hasattr(record, name)}
    return model.model_validate({**fields, **given})
