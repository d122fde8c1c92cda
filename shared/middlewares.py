"""What wraps every request of every service, in one middleware: request and correlation ids, problem+json for
every error (a database outage a 503 with Retry-After; anything unexpected a bare 500, its details logged), metrics
and the access log.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from rules.refusal import Refused
from shared.db import RETRY_AFTER_SECONDS, unreachable
from shared.keys import DB_OUTAGE, METRICS, REFUSALS
from shared.logging import CORRELATION_ID, REQUEST_ID, get_logger, log_request
from shared.problems import (
    BadRequest,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Problem,
    ServiceUnavailable,
    UnsupportedMediaType,
    refusal_problem,
)

log = get_logger(__name__)


_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_HTTP_PROBLEMS: dict[int, type[Problem]] = {
    400: BadRequest,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


def problem_response(problem: Problem, request: web.Request) -> web.Response:
    return web.Response(
        status=problem.status,
        body=json.dumps(problem.body(instance=request.path)),
        content_type=problem.content_type,
        headers=problem.headers,
    )


def _http_problem(exc: web.HTTPException) -> Problem:
    problem_type = _HTTP_PROBLEMS.get(exc.status)
    problem = problem_type(exc.text if exc.status == 413 else None) if problem_type else Problem()
    if problem_type is None:  # other HTTP errors keep their status, as a generic problem
        problem.status, problem.title, problem.slug = exc.status, exc.reason, "http-error"
    if exc.status == 405 and "Allow" in exc.headers:
        problem.headers["Allow"] = exc.headers["Allow"]
    return problem


_QUIET_PATHS = frozenset(("/healthz", "/readyz", "/metrics"))  # probes and scrapes: counted, not logged


@web.middleware
async def kernel_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """What wraps every request, in one frame (each middleware is a coroutine per request): the request and
    correlation ids bound to every log line it causes and echoed; every error as RFC 9457 problem+json (the
    database unreachable a 503 with Retry-After, anything unexpected a bare 500 with its details only in the log);
    then the request counted and timed by route, and logged."""
    request_id = _id_header(request, "X-Request-ID") or new_request_id()
    correlation_id = _id_header(request, "X-Correlation-ID") or request_id
    started = time.perf_counter()
    bound = REQUEST_ID.set(request_id), CORRELATION_ID.set(correlation_id)
    try:
        try:
            response = await handler(request)
        except Problem as raised:
            response = problem_response(raised, request)
        except Refused as refused:  # a service that maps the rules' refusals in one place (shared.keys.REFUSALS)
            answer = request.app.get(REFUSALS, refusal_problem)
            response = problem_response(answer(refused), request)
        except web.HTTPException as exc:
            if exc.status < 400:  # a redirect: counted and logged as answered
                _answered(request, exc.status, started)
                raise
            response = problem_response(_http_problem(exc), request)
        except Exception as exc:
            if (unavailable := database_unavailable(request, exc)) is not None:
                response = problem_response(unavailable, request)
            else:
                log.exception("http.unhandled_error", method=request.method, path=request.path)
                internal = InternalError("The server could not answer this request. It has been logged.")
                response = problem_response(internal, request)
        response.headers["X-Request-ID"] = request_id
        response.headers["X-Correlation-ID"] = correlation_id
        _answered(request, response.status, started)
        return response
    finally:
        CORRELATION_ID.reset(bound[1])
        REQUEST_ID.reset(bound[0])


def _answered(request: web.Request, status: int, started: float) -> None:
    seconds = time.perf_counter() - started
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    request.app[METRICS].request_answered(route, request.method, status, seconds)
    if request.path not in _QUIET_PATHS:
        log_request(request.method, request.path, status, round(seconds * 1000, 2))


# A request id where the caller sent none, in a UUID's shape: a random prefix per process and a counter (a UUID4
# each would cost a system call for its randomness on every request).
_ID_PREFIX = str(uuid.uuid4())[:24]
_ID_COUNTER = itertools.count(random.getrandbits(40))


def new_request_id() -> str:
    return _ID_PREFIX + format(next(_ID_COUNTER) & 0xFFFFFFFFFFFF, "012x")


def _id_header(request: web.Request, name: str) -> str | None:
    value = request.headers.get(name)
    return value if value and _SAFE_ID.match(value) else None


def database_unavailable(request: web.Request, exc: BaseException) -> ServiceUnavailable | None:
    """The answer to a request the database could not serve (`shared.db.unreachable`): a 503 with Retry-After,
    counted in the process's outage (which logs it once, not a traceback per request); None for any other failure.
    """
    if not unreachable(exc):
        return None
    if (outage := request.app.get(DB_OUTAGE)) is not None:
        outage.refused(exc)
    return ServiceUnavailable(
        "The database is unavailable just now; try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        retry_after=RETRY_AFTER_SECONDS,
    )
