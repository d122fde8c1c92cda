"""Asking (SUP-1): the consulting line about one of the subscriber's registered products (chosen from registration's
list, as Software shows it; the configuration and versions prefilled from a release page's link), or feedback to the
vendor. Up to 10 files come with the form, read as a stream and spooled to disk (kit_forms), then sent on one by one
to support once the question exists. support decides everything: a 409 listing partners asks to choose one, a 402
shows the offer, as release pages do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from services.portal.clients.registration import Registration
from services.portal.clients.transport import ServiceDown, ServiceError
from services.portal.clients.updates import offer_of
from services.portal.keys import REGISTRATION, SUPPORT
from services.portal.pages.base import as_user, logged_in, redirect, render, t
from services.portal.pages.kit_forms import KitTooLarge, ReceivedForm, Spooled, file_chunks, received_form, streams_form
from services.portal.pages.partners_directory import offer_partner
from services.portal.pages.support_words import MAX_FILE_BYTES, MAX_FILES, file_name, file_type, form_errors, said

routes = web.RouteTableDef()

PREFILLED = ("kind", "registration_number", "configuration", "version", "platform_version")
TEXTS = ("subject", "body", *PREFILLED, "partner_id")


async def _products(request: web.Request) -> list[Registration]:
    """The subscriber's registered products to choose from; none when registration cannot say now (feedback still
    works)."""
    try:
        return await as_user(request, request.app[REGISTRATION].registrations)
    except (ServiceError, ServiceDown):
        return []


async def _form(
    request: web.Request,
    values: Mapping[str, str],
    *,
    errors: Mapping[str, str] | None = None,
    partners: list[dict[str, str]] | None = None,
    status: int = 200,
    **extra: object,
) -> web.Response:
    context = {
        **extra,
        "values": values,
        "errors": errors or {},
        "products": await _products(request),
        "partners": partners or [],
        "max_files": MAX_FILES,
    }
    return render(request, "support_ask.html", context, status=status)


@routes.get("/support/ask")
async def ask_form(request: web.Request) -> web.Response:
    logged_in(request)
    values = {name: request.query.get(name, "").strip()[:100] for name in PREFILLED}
    values["kind"] = "feedback" if values["kind"] == "feedback" else "consulting"
    return await _form(request, values)


def _question(values: Mapping[str, str]) -> dict[str, Any]:
    kind = "feedback" if values.get("kind") == "feedback" else "consulting"
    body: dict[str, Any] = {"kind": kind, "subject": values.get("subject", ""), "body": values.get("body", "")}
    names = ("configuration", "version", "platform_version") + (
        ("registration_number", "partner_id") if kind == "consulting" else ()
    )
    for name in names:
        if value := values.get(name, "").strip():
            body[name] = value
    return body


@routes.post("/support/ask")
@streams_form
async def ask(request: web.Request) -> web.Response:
    logged_in(request)
    try:
        received = await received_form(request, files=MAX_FILES, max_bytes=MAX_FILE_BYTES)
    except KitTooLarge:
        return await _form(request, {}, errors={"files": t(request, "support.files.too_large")}, status=413)
    try:
        return await _ask(request, received)
    finally:
        received.close()


async def _ask(request: web.Request, received: ReceivedForm) -> web.Response:
    values = {name: received.fields.get(name, "") for name in TEXTS}
    support = request.app[SUPPORT]
    try:
        question = await as_user(request, lambda token: support.ask(token, _question(values)))
    except ServiceError as exc:
        return await _refused(request, values, exc, bool(received.uploads))
    not_attached = await attach_all(request, question.id, received.uploads)
    query = urlencode([("asked", "1"), *(("not_attached", name) for name in not_attached)])
    return redirect(f"/support/questions/{question.id}?{query}")


async def attach_all(request: web.Request, question_id: str, uploads: list[Spooled]) -> list[str]:
    """Each file streamed on to support; the names of those it refused (too many, a type that is not what the bytes
    are, …): the page says so, and the person can attach them again."""
    support, refused, taken = request.app[SUPPORT], [], set[str]()
    for upload in uploads:
        name = file_name(upload.filename, taken)

        async def send(token: str, upload: Spooled = upload, name: str = name) -> None:
            chunks = file_chunks(upload.file)
            await support.attach(token, question_id, name, file_type(upload.content_type), upload.size, chunks)

        try:
            await as_user(request, send)
        except ServiceError:
            refused.append(upload.filename[:200])
    return refused


async def _refused(request: web.Request, values: dict[str, str], exc: ServiceError, had_files: bool) -> web.Response:
    """support's refusal in words: the form again with what was typed (files must be chosen again), the partners to
    choose from (409), or the offer (402) as release pages show it."""
    files_again = {"files": t(request, "support.files.again")} if had_files else {}
    if exc.status == 409 and isinstance(exc.body.get("partners"), list):
        partners = [
            {"id": str(p.get("id", "")), "name": str(p.get("name", ""))}
            for p in exc.body["partners"]
            if isinstance(p, dict)
        ]
        errors = {"partner_id": t(request, "support.choose_partner"), **files_again}
        return await _form(request, values, errors=errors, partners=partners, status=409)
    if exc.status == 422:
        # a partner not among those accompanying the product: its 422 lists them again
        listed = [e.get("partners") for e in exc.body.get("errors", []) if isinstance(e, dict)]
        choices = [
            {"id": str(p.get("id", "")), "name": str(p.get("name", ""))}
            for found in listed
            if isinstance(found, list)
            for p in found
            if isinstance(p, dict)
        ]
        return await _form(
            request, values, errors={**form_errors(request, exc), **files_again}, partners=choices, status=422
        )
    offer = offer_of(exc)  # 402: how to get the month covered (ITS-7), as updates' offers say it
    partner = await offer_partner(request, offer)
    errors = {"_form": said(request, exc), **files_again}
    return await _form(request, values, errors=errors, offer=offer, offer_partner=partner, status=exc.status)
