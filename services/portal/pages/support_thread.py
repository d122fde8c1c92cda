"""A question's thread for the asker's side (SUP-1): the question and its messages (Markdown rendered by
shared.markdown, raw HTML never live), its attachments as downloads streamed through the portal (always as an
attachment), the reply form (with files), close, reopen, the rating of a closed question, and the owner's switch that
shares it with all the subscriber's users."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from services.portal.clients.support import Question, Thread
from services.portal.clients.transport import ServiceError
from services.portal.keys import SUPPORT
from services.portal.pages.base import as_user, form_values, logged_in, path_uuid, redirect, render, t
from services.portal.pages.kit_forms import KitTooLarge, received_form, streams_form
from services.portal.pages.support_ask import attach_all
from services.portal.pages.support_words import MAX_FILE_BYTES, MAX_FILES, form_errors, is_owner, said
from shared.markdown import render as markdown

routes = web.RouteTableDef()

CHUNK = 256 * 1024


def thread_context(thread: Thread) -> dict[str, object]:
    """What a thread's template needs besides the thread: its texts as safe HTML, rendered here from the Markdown."""
    return {"thread": thread, "markdown": markdown}


async def _thread_page(
    request: web.Request,
    question_id: str,
    *,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    support = request.app[SUPPORT]
    try:
        thread = await as_user(request, lambda token: support.thread(token, question_id))
    except ServiceError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        return render(request, "support_refused.html", {"message": said(request, exc)}, status=exc.status)
    notices = []
    if request.query.get("asked"):
        notices.append(t(request, "support.asked"))
    if not_attached := request.query.getall("not_attached", []):
        notices.append(t(request, "support.files.not_attached", names=", ".join(not_attached[:MAX_FILES])))
    context = {
        **thread_context(thread),
        "notices": notices,
        "errors": errors or {},
        "values": values or {},
        "base": f"/support/questions/{question_id}",
        "max_files": MAX_FILES,
        "session_owner": is_owner(request),
    }
    return render(request, "support_thread.html", context, status=status)


@routes.get("/support/questions/{question_id}")
async def thread(request: web.Request) -> web.Response:
    logged_in(request)
    return await _thread_page(request, path_uuid(request, "question_id"))


@routes.post("/support/questions/{question_id}/reply")
@streams_form
async def reply(request: web.Request) -> web.Response:
    logged_in(request)
    question_id = path_uuid(request, "question_id")
    try:
        received = await received_form(request, files=MAX_FILES, max_bytes=MAX_FILE_BYTES)
    except KitTooLarge:
        return await _thread_page(
            request, question_id, errors={"files": t(request, "support.files.too_large")}, status=413
        )
    try:
        values = {"body": received.fields.get("body", "")}
        support = request.app[SUPPORT]
        try:
            await as_user(request, lambda token: support.write(token, question_id, values))
        except ServiceError as exc:
            if exc.status == 404:
                raise web.HTTPNotFound() from None
            errors = form_errors(request, exc) if exc.status == 422 else {"_form": said(request, exc)}
            return await _thread_page(request, question_id, errors=errors, values=values, status=exc.status)
        not_attached = await attach_all(request, question_id, received.uploads)
    finally:
        received.close()
    query = urlencode([("written", "1"), *(("not_attached", name) for name in not_attached)])
    return redirect(f"/support/questions/{question_id}?{query}#messages")


async def _act(
    request: web.Request, call: Callable[[str, str], Awaitable[Question]], values: Mapping[str, str] | None = None
) -> web.Response:
    """A button of the thread (close, reopen, rate, share): done, back to the thread; refused, said above it."""
    question_id = path_uuid(request, "question_id")
    try:
        await as_user(request, lambda token: call(token, question_id))
    except ServiceError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        errors = form_errors(request, exc) if exc.status == 422 else {"_form": said(request, exc)}
        return await _thread_page(request, question_id, errors=errors, values=values, status=exc.status)
    return redirect(f"/support/questions/{question_id}")


@routes.post("/support/questions/{question_id}/close")
async def close(request: web.Request) -> web.Response:
    logged_in(request)
    support = request.app[SUPPORT]
    return await _act(request, lambda token, qid: support.act(token, qid, "close"))


@routes.post("/support/questions/{question_id}/reopen")
async def reopen(request: web.Request) -> web.Response:
    logged_in(request)
    support = request.app[SUPPORT]
    return await _act(request, lambda token, qid: support.act(token, qid, "reopen"))


@routes.post("/support/questions/{question_id}/rate")
async def rate(request: web.Request) -> web.Response:
    logged_in(request)
    values = await form_values(request)
    score = values.get("score", "")
    if score not in ("1", "2", "3", "4", "5"):
        question_id = path_uuid(request, "question_id")
        errors = {"score": t(request, "support.rate.choose")}
        return await _thread_page(request, question_id, errors=errors, values=values, status=422)
    comment = values.get("comment", "").strip() or None
    support = request.app[SUPPORT]
    return await _act(request, lambda token, qid: support.rate(token, qid, int(score), comment), values)


@routes.post("/support/questions/{question_id}/share")
async def share(request: web.Request) -> web.Response:
    logged_in(request)
    shared = (await form_values(request)).get("shared") == "yes"
    support = request.app[SUPPORT]
    return await _act(request, lambda token, qid: support.share(token, qid, shared))


async def stream_attachment(
    request: web.Request, opened: Callable[[], Awaitable[aiohttp.ClientResponse]]
) -> web.StreamResponse:
    """support's download passed on as it arrives, always as an attachment (never shown inline by the browser)."""
    try:
        upstream = await opened()
    except ServiceError as exc:
        if exc.status in (403, 404):
            raise web.HTTPNotFound() from None
        raise
    try:
        response = web.StreamResponse(
            headers={
                "Content-Type": upstream.headers.get("Content-Type", "application/octet-stream"),
                "Content-Disposition": upstream.headers.get("Content-Disposition", "attachment"),
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox; default-src 'none'",
                "Cache-Control": "private, no-store",
            }
        )
        if not response.headers["Content-Disposition"].startswith("attachment"):
            response.headers["Content-Disposition"] = "attachment"
        if upstream.content_length is not None:
            response.content_length = upstream.content_length
        await response.prepare(request)
        async for chunk in upstream.content.iter_chunked(CHUNK):
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        upstream.release()


@routes.get("/support/questions/{question_id}/attachments/{name}")
async def attachment(request: web.Request) -> web.StreamResponse:
    logged_in(request)
    question_id, name = path_uuid(request, "question_id"), request.match_info["name"]
    support = request.app[SUPPORT]
    return await stream_attachment(
        request, lambda: as_user(request, lambda token: support.attachment(token, question_id, name))
    )
