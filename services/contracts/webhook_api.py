"""contracts' API for a partner's webhook: the URL that receives its contracts' outcomes, signed (webhooks.py)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated
from urllib.parse import urlsplit

import pydantic
from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints, field_validator

from services.contracts import webhooks
from shared.auth import Caller
from shared.events import Envelope
from shared.events.contracts import ContractActivated
from shared.http import Api, Header, Webhook
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


# What webhooks.webhook_job posts: the event's envelope as the outbox recorded it, `data` the event's model.
ContractActivatedDelivery: type[pydantic.BaseModel] = pydantic.create_model(
    "ContractActivatedDelivery",
    __base__=Envelope,
    __doc__=f"The envelope of a {ContractActivated.TYPE} event (shared/events/contracts.py), as the bus carries it",
    id=(uuid.UUID, ...),  # always there in a delivery (the envelope's own default is for new events)
    type=(str, Field(pattern=f"^{re.escape(ContractActivated.TYPE)}$")),
    version=(int, Field(ge=ContractActivated.VERSION, le=ContractActivated.VERSION)),
    data=(ContractActivated, ...),
)
# webhooks.signature's value: `t=<unix time>,v1=<hex HMAC-SHA256>`.
SIGNATURE_PATTERN = r"^t=[0-9]+,v1=[0-9a-f]{64}$"

routes.webhook(
    Webhook(
        "contractActivated",
        summary="A partner's contract was activated (processed on the next business day, ITS-2)",
        description="POSTed to the URL the partner set (POST /v1/partner/webhook), one request per event. Verify "
        "`X-ITS-Signature` before trusting the body: recompute HMAC-SHA256 with the webhook's secret over "
        '"<t>.<raw body>" (t from the header), compare with v1 in constant time, and refuse an old t (a replay). '
        "Deliveries may repeat: `X-ITS-Delivery` (the event's id) is the same on every try.",
        body=ContractActivatedDelivery,
        headers=(
            Header(
                "X-ITS-Signature",
                {"type": "string", "pattern": SIGNATURE_PATTERN},
                required=True,
                description='t=<unix time of sending>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>',
            ),
            Header("X-ITS-Event", {"type": "string"}, required=True, description="The event type (the body's type)"),
            Header(
                "X-ITS-Delivery",
                {"type": "string", "format": "uuid"},
                required=True,
                description="The event's id (the body's id): the same on every retry, to recognise a repeat",
            ),
        ),
        outcome="Delivered. Any other answer, a redirect or no answer within the timeout (ITS_WEBHOOK_TIMEOUT, "
        "10 s) is tried again later with back-off, up to ITS_WEBHOOK_MAX_ATTEMPTS (12) times",
    )
)
