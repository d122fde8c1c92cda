"""identity's API of a partner's systems' clients: a partner system authenticates with OAuth 2.0
client_credentials (tokens_api) and sees only its own partner."""

from __future__ import annotations

import uuid
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel

from services.identity import partner_clients
from services.identity.partners_api import Text, partner_caller, path_uuid
from services.identity.partners_store import PartnerClient
from shared.auth import Caller
from shared.http import Api, Link
from shared.keys import CLOCK, OUTBOX, POOL
from shared.parsing import StrictModel

routes = Api("ITS Portal identity: partner clients")


class NewClient(StrictModel):
    name: Text


class ClientOut(BaseModel):
    client_id: uuid.UUID
    name: str
    created_at: datetime
    revoked_at: datetime | None


class ClientCreated(ClientOut):
    client_secret: str  # shown once; only its hash is kept


class ClientList(BaseModel):
    items: list[ClientOut]


@routes.post(
    "/v1/partners/{partner_id:uuid}/clients",
    summary="Create an API client; its secret is shown once (operators and partner admins)",
    auth=True,
    body=NewClient,
    response=ClientCreated,
    status=201,
    errors=(403, 404),
    tags=("partners",),
    callers=("operator", "partner"),
    links={
        "RevokeClient": Link(
            "revoke_client", {"partner_id": "$request.path.partner_id", "client_id": "$response.body#/client_id"}
        )
    },
)
async def create_client(request: web.Request, caller: Caller, body: NewClient) -> ClientCreated:
    partner_id = path_uuid(request, "partner_id")
    app = request.app
    client, secret = await partner_clients.create_client(
        app[POOL], app[OUTBOX], app[CLOCK].now(), partner_caller(caller), partner_id, body.name
    )
    return ClientCreated(**_client_out(client).model_dump(), client_secret=secret)


@routes.get(
    "/v1/partners/{partner_id:uuid}/clients",
    summary="A partner's API clients, no secrets (operators and partner admins)",
    auth=True,
    response=ClientList,
    tags=("partners",),
    errors=(403, 404),
    callers=("operator", "partner"),
)
async def list_clients(request: web.Request, caller: Caller) -> ClientList:
    partner_id = path_uuid(request, "partner_id")
    clients = await partner_clients.clients(request.app[POOL], partner_caller(caller), partner_id)
    return ClientList(items=[_client_out(c) for c in clients])


@routes.post(
    "/v1/partners/{partner_id:uuid}/clients/{client_id:uuid}/revoke",
    summary="Revoke an API client (operators and partner admins)",
    auth=True,
    response=ClientOut,
    errors=(403, 404),
    tags=("partners",),
    callers=("operator", "partner"),
)
async def revoke_client(request: web.Request, caller: Caller) -> ClientOut:
    """Its secret gives no new tokens, and every service refuses its tokens at once (shared.revocations)."""
    partner_id, client_id = path_uuid(request, "partner_id"), path_uuid(request, "client_id")
    app = request.app
    client = await partner_clients.revoke_client(
        app[POOL], app[OUTBOX], app[CLOCK], partner_caller(caller), partner_id, client_id
    )
    return _client_out(client)


def _client_out(client: PartnerClient) -> ClientOut:
    return ClientOut(client_id=client.id, name=client.name, created_at=client.created_at, revoked_at=client.revoked_at)
