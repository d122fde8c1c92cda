"""updates' publishing: a draft release published (announced, in the catalogue at once) or withdrawn (operators)."""

from __future__ import annotations

from aiohttp import web

from services.updates.catalogue_models import OPERATOR, ReleaseOut, ReleasePath, WithdrawIn, release_out
from services.updates.keys import STORAGE, TUF_KEYS
from services.updates.problems import refusals_answered
from services.updates.publishing import publish_release, withdraw_release
from shared.auth import Caller
from shared.http import Api, Link
from shared.keys import CLOCK, OUTBOX, POOL

routes = Api("ITS Portal updates: publishing")


@routes.post(
    "/v1/releases/{release_id}/publish",
    summary="Publish a draft whose kits are all uploaded (UPD-1, UPD-2); publishing again changes nothing",
    scope=OPERATOR,
    params=ReleasePath,
    response=ReleaseOut,
    errors=(404, 409, 422),
    links={"Withdraw": Link("withdraw", {"release_id": "$response.body#/id"})},
    tags=("catalogue",),
)
async def publish(request: web.Request, caller: Caller, params: ReleasePath) -> ReleaseOut:
    app = request.app
    with refusals_answered(detail="the release's versions do not parse"):
        release = await publish_release(
            app[POOL], app[OUTBOX], app[STORAGE], app[TUF_KEYS], params.release_id, app[CLOCK].now()
        )
    return release_out(release)


@routes.post(
    "/v1/releases/{release_id}/withdraw",
    summary="Withdraw a published release: subscribers no longer see it, update plans avoid it",
    scope=OPERATOR,
    params=ReleasePath,
    body=WithdrawIn,
    response=ReleaseOut,
    errors=(404, 409),
    tags=("catalogue",),
)
async def withdraw(request: web.Request, caller: Caller, params: ReleasePath, body: WithdrawIn) -> ReleaseOut:
    app = request.app
    with refusals_answered():
        release = await withdraw_release(
            app[POOL], app[OUTBOX], app[TUF_KEYS], params.release_id, body.reason, app[CLOCK].now()
        )
    return release_out(release)
