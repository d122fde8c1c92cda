"""contracts' API for a partner's webhook: the URL that receives its contracts' outcomes, signed (webhooks.py)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, StringConstraints, field_validator

from services.contracts import webhooks
from shared.auth import Caller
from shared.http import Api
from shared.keys import CLOCK, POOL
from shared.parsing import StrictModel
from shared.problems import NotFound

routes = Api("ITS Portal contracts: partners' webhooks")


class WebhookIn(StrictModel):
    url: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True,
            max_length=2000,
            # https://, or http:// to this machine (development); a host is required.
            pattern=r"^(https://[A-Za-z0-9.-]+|http://(localhost|127\.0\.0\.1|\[::1\]))(:[0-9]{1,5})?([/?#]\S*)?$",
        ),
    ]

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        local = parts.hostname in ("localhost", "127.0.0.1", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            raise ValueError("a webhook URL is https:// (http:// only to this machine, for development)")
        if not parts.hostname:
            raise ValueError("the URL has no host")
        return value


class WebhookOut(BaseModel):
    url: str
    # Shown when set: signatures are HMAC-SHA256 of "<timestamp>.<body>" with this secret.
    secret: str | None = None


@routes.post(
    "/v1/partner/webhook",
    summary="Set the URL that receives contract outcomes, signed (HMAC-SHA256); a new secret each time",
    auth=True,
    body=WebhookIn,
    response=WebhookOut,
    errors=(403, 422),
    tags=("partner",),
    callers=("partner",),
)
async def set_webhook(request: web.Request, caller: Caller, body: WebhookIn) -> WebhookOut:
    partner_id = caller.require_partner()
    secret = await webhooks.set_webhook(request.app[POOL], partner_id, body.url, request.app[CLOCK].now())
    return WebhookOut(url=body.url, secret=secret)


@routes.get(
    "/v1/partner/webhook",
    summary="The partner's webhook URL",
    auth=True,
    response=WebhookOut,
    errors=(403, 404),
    tags=("partner",),
    callers=("partner",),
)
async def get_webhook(request: web.Request, caller: Caller) -> WebhookOut:
    url = await webhooks.webhook_url(request.app[POOL], caller.require_partner())
    if url is None:
        raise NotFound("no webhook is set")
    return WebhookOut(url=url)


@routes.delete(
    "/v1/partner/webhook",
    summary="Stop sending contract outcomes to the webhook",
    auth=True,
    errors=(403, 404),
    tags=("partner",),
    callers=("partner",),
    status=204,
)
async def delete_webhook(request: web.Request, caller: Caller) -> None:
    if not await webhooks.remove_webhook(request.app[POOL], caller.require_partner()):
        raise NotFound("no webhook is set")
