"""updates' signed update metadata over HTTP (The Update Framework, issue 21).

`GET|HEAD /tuf/{name}` serves the metadata to client programs — and to any mirror or CDN in front, which may keep it:
a versioned file (`<version>.<role>.json`) never changes (a year's max-age, immutable), `timestamp.json` changes with
every publish and renewal (TIMESTAMP_MAX_AGE). No token: the metadata is signed, and says nothing a kit's name does
not. The operators' endpoints install a root signed offline (`itsctl tuf install-root`), give a delegated role a new
key (`itsctl tuf rotate --role configuration.<code>`) and tell what the repository holds (`itsctl tuf status`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, StringConstraints

from services.updates import tuf_metadata
from services.updates.catalogue_models import OPERATOR
from services.updates.keys import TUF_KEYS
from services.updates.problems import refusals_answered
from services.updates.ranges import etag_matches
from services.updates.tuf_roles import MetadataName
from shared.auth import Caller
from shared.http import Api, Header
from shared.keys import CLOCK, POOL
from shared.parsing import PathParams, StrictModel
from shared.problems import NotFound, Problem

routes = Api("ITS Portal updates: signed update metadata")

# A new timestamp is seen by clients behind a cache at most this late (a release published just now is verifiable
# by then); the versioned files are kept as long as a cache likes.
TIMESTAMP_MAX_AGE = 30
IMMUTABLE = "public, max-age=31536000, immutable"
# A name not found (yet): `<n+1>.root.json` is what every client asks for at each refresh, to learn of a new root.
NOT_FOUND_MAX_AGE = 30
NAME_PATTERN = (
    r"^(?:[1-9][0-9]{0,8}\.(?:root|targets|snapshot|platform|configuration\.[A-Za-z][A-Za-z0-9_.-]{0,63})"
    r"|timestamp)\.json$"
)
_METADATA_SCHEMA = {
    "type": "object",
    "description": "TUF metadata (theupdateframework.io): the signed role and its signatures",
    "properties": {"signed": {"type": "object"}, "signatures": {"type": "array", "items": {"type": "object"}}},
    "required": ["signed", "signatures"],
}
_CACHE_HEADERS = {
    "ETag": {"required": True, "schema": {"type": "string"}},
    "Cache-Control": {"required": True, "schema": {"type": "string"}},
}


class MetadataNotFound(NotFound):
    slug, title = "update-metadata-not-found", "No such update metadata"


class MetadataPath(PathParams):
    name: Annotated[str, StringConstraints(pattern=NAME_PATTERN)]

    @classmethod
    def malformed(cls, errors: list[dict[str, Any]]) -> Problem:
        return _not_found("No metadata file has such a name.")


class RolePath(PathParams):
    role: Annotated[str, StringConstraints(pattern=r"^(?:platform|configuration\.[A-Za-z][A-Za-z0-9_.-]{0,63})$")]


class RootMetadataIn(StrictModel):
    """A root's metadata as `itsctl tuf` writes it (N.root.json): what it says, and the root keys' signatures."""

    signed: dict[str, Any]
    signatures: list[dict[str, Any]]


class KeyValue(StrictModel):
    public: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class PublicKeyIn(StrictModel):
    """A public key as TUF metadata writes it (securesystemslib's key), with its keyid."""

    keyid: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    keytype: Literal["ed25519", "ecdsa", "rsa"]
    scheme: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,40}$")]
    keyval: KeyValue


class DelegatedKeyIn(StrictModel):
    key: PublicKeyIn


class RoleOut(BaseModel):
    role: str
    version: int
    expires: datetime


class RepositoryOut(BaseModel):
    """The newest version of each role and its expiry (soonest first), and the keyids of the keys the answering
    process holds. `changed`: false when the root sent was installed already."""

    roles: list[RoleOut]
    keyids: list[str]
    changed: bool


_FILE_RESPONSES: dict[int, dict[str, Any]] = {
    200: {
        "description": "The metadata file",
        "headers": _CACHE_HEADERS,
        "content": {"application/json": {"schema": _METADATA_SCHEMA}},
    },
    304: {"description": "Not modified (If-None-Match)", "headers": _CACHE_HEADERS},
}


@routes.get(
    "/tuf/{name}",
    summary="Signed update metadata (TUF): <version>.<role>.json (immutable) or timestamp.json (the newest)",
    params=MetadataPath,
    headers=(Header("If-None-Match", {"type": "string"}, description="ETags seen before"),),
    responses={**_FILE_RESPONSES},
    errors=(404,),
    tags=("signed update metadata",),
)
async def metadata_file(request: web.Request, params: MetadataPath) -> web.StreamResponse:
    return await _file_response(request, params)


@routes.route(
    "HEAD",
    "/tuf/{name}",
    summary="A metadata file's headers (ETag, length, Cache-Control) without its body",
    params=MetadataPath,
    headers=(Header("If-None-Match", {"type": "string"}, description="ETags seen before"),),
    responses={status: {k: v for k, v in info.items() if k != "content"} for status, info in _FILE_RESPONSES.items()},
    errors=(404,),
    tags=("signed update metadata",),
)
async def metadata_file_head(request: web.Request, params: MetadataPath) -> web.StreamResponse:
    return await _file_response(request, params)


async def _file_response(request: web.Request, params: MetadataPath) -> web.StreamResponse:
    name = MetadataName.parse(params.name)
    if name is None:  # the pattern admits what parses; kept for the type checker
        raise _not_found("No metadata file has such a name.")
    found = await tuf_metadata.metadata_file(request.app[POOL], name)
    if found is None:
        raise _not_found(f"{name} is not (yet) in the repository.")
    etag = f'"{found.sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE if name.version is not None else f"public, max-age={TIMESTAMP_MAX_AGE}",
        "X-Content-Type-Options": "nosniff",
    }
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and etag_matches(if_none_match, etag, weak=True):  # RFC 9110: the weak comparison
        return web.Response(status=304, headers=headers)
    return web.Response(body=found.body, content_type="application/json", headers=headers)


def _not_found(detail: str) -> MetadataNotFound:
    return MetadataNotFound(detail, headers={"Cache-Control": f"public, max-age={NOT_FOUND_MAX_AGE}"})


# ---- operators ---------------------------------------------------------------------------------------------------


@routes.post(
    "/v1/tuf/root",
    summary="Install the next root metadata, signed offline (itsctl tuf): the first also signs every published kit",
    scope=OPERATOR,
    body=RootMetadataIn,
    response=RepositoryOut,
    errors=(409, 422),
    tags=("signed update metadata",),
)
async def install_root(request: web.Request, caller: Caller, body: RootMetadataIn) -> RepositoryOut:
    app = request.app
    raw = json.dumps(body.model_dump()).encode()
    with refusals_answered():
        state = await tuf_metadata.install_root(app[POOL], app[TUF_KEYS], raw, app[CLOCK].now())
    return _repository_out(state)


@routes.put(
    "/v1/tuf/roles/{role}/key",
    summary="Give a configuration's (or the platform's) role a new signing key, whose private half the service holds",
    scope=OPERATOR,
    params=RolePath,
    body=DelegatedKeyIn,
    response=RepositoryOut,
    errors=(404, 409),
    tags=("signed update metadata",),
)
async def delegate_key(request: web.Request, caller: Caller, params: RolePath, body: DelegatedKeyIn) -> RepositoryOut:
    app = request.app
    with refusals_answered():
        state = await tuf_metadata.delegate_key(
            app[POOL], app[TUF_KEYS], params.role, body.key.model_dump(), app[CLOCK].now()
        )
    return _repository_out(state)


@routes.get(
    "/v1/tuf/status",
    summary="The newest version of every role and when it expires; the keys this replica holds",
    scope=OPERATOR,
    response=RepositoryOut,
    tags=("signed update metadata",),
)
async def repository_status(request: web.Request, caller: Caller) -> RepositoryOut:
    return _repository_out(await tuf_metadata.repository_state(request.app[POOL], request.app[TUF_KEYS]))


def _repository_out(state: tuf_metadata.RepositoryState) -> RepositoryOut:
    roles = [RoleOut(role=r.role, version=r.version, expires=r.expires) for r in state.roles]
    return RepositoryOut(roles=roles, keyids=state.keyids, changed=state.changed)
