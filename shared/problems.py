"""Errors as values: a small hierarchy mapped to RFC 9457 problem+json in one middleware."""

from __future__ import annotations

from typing import Any

from rules.refusal import Refusal, Refused

PROBLEM_BASE = "https://its-portal.dev/problems/"


class Problem(Exception):
    """An answer to the client that something is wrong, with a stable `type`."""

    status = 400
    slug = "bad-request"
    title = "Bad request"
    content_type = "application/problem+json"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class BadRequest(Problem):
    status, slug, title = 400, "bad-request", "Bad request"


class MalformedJson(Problem):
    status, slug, title = 400, "malformed-json", "The request body is not valid JSON"


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, *, error: str = "invalid_token", **extra: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": f'Bearer error="{error}"'}, **extra)


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(Problem):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "The request body is too large"


class UnsupportedMediaType(Problem):
    status, slug, title = 415, "unsupported-media-type", "Unsupported content type"


def invalid(field: str, message: str, kind: str = "value_error", **extra: str) -> dict[str, Any]:
    """One entry of a 422's `errors`: the field, a message for a person, a stable type for programs."""
    return {"field": field, "message": message, "type": kind, **extra}


class ValidationFailed(Problem):
    """422 with `errors`: one entry per failing field."""

    status, slug, title = 422, "validation", "The request has invalid fields"

    def __init__(self, errors: list[dict[str, Any]], detail: str | None = None) -> None:
        super().__init__(detail, errors=errors)


class TooManyRequests(Problem):
    status, slug, title = 429, "too-many-requests", "Too many attempts"

    def __init__(self, detail: str | None = None, *, retry_after: int, **extra: Any) -> None:
        retry_after = max(1, retry_after)
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, retry_after=retry_after, **extra)


class InternalError(Problem):
    status, slug, title = 500, "internal", "Internal server error"


class ServiceUnavailable(Problem):
    status, slug, title = 503, "unavailable", "Service temporarily unavailable"


_REFUSAL_STATUS = {
    "invalid": 422,
    "forbidden": 403,
    "payment-required": 402,
    "conflict": 409,
    "not-found": 404,
    "gone": 410,
    "too-often": 429,
}


def refusal_problem(refused: Refused | Refusal, *, slug: str | None = None, title: str | None = None) -> Problem:
    """The HTTP edge of the rules: a refusal as problem+json. Invalid requests answer 422 with one `errors` entry
    per refusal (its field, message and reason as the type); other kinds answer their status, the reason as the
    problem's type unless `slug` names a service's own, and the refusal's details as extension members."""
    refusals = refused.refusals if isinstance(refused, Refused) else (refused,)
    first = refusals[0]
    if first.kind == "invalid":
        errors = [invalid(r.field or "body", r.message, r.reason, **r.details) for r in refusals]
        problem: Problem = ValidationFailed(errors, first.message if len(refusals) == 1 else None)
        if slug is not None:
            problem.slug = slug
        if title is not None:
            problem.title = title
        return problem
    if first.kind == "too-often":  # the kernel's 429, with Retry-After, and the other details as members
        details = dict(first.details)
        problem = TooManyRequests(first.message, retry_after=int(details.pop("retry_after")), **details)
        problem.slug, problem.title = slug or problem.slug, title or problem.title
        return problem
    problem = Problem(first.message, reason=first.reason, **first.details)
    problem.status = _REFUSAL_STATUS[first.kind]
    problem.slug = slug or first.reason
    problem.title = title or first.message
    return problem
