"""How the collector answers an error: the one mapping from the error tree to HTTP.

Services raise ``netmon.errors.RequestRefused`` subclasses (domain errors, no HTTP in them);
the app's exception handler turns each into JSON ``{"detail": "<clear message>", ...}`` with the
status below, ``Retry-After`` when the error has ``retry_after``, the Bearer challenge on 401 and
``X-Netmon-Cut-Off`` on a ``CutOff`` (``netmon.contract.CUT_OFF_HEADER``).
A ``StorageError`` that escapes a route (the shared PostgreSQL unreachable while the incidents
API reads it) is 503 with ``Retry-After: 5``. FastAPI's own 422 (query, path and JSON body
parameters) lists ``loc``, ``msg`` and ``type`` of each error, without echoing the input.
Anything else that escapes a route is logged with its traceback and answered 500 without it.
docs/collector.md lists every status and what an agent should do with it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from netmon.contract import CUT_OFF_HEADER
from netmon.errors import (
    BodyTooLarge,
    CollectorBusy,
    CutOff,
    Forbidden,
    InvalidBatch,
    MalformedBody,
    NoProbePlan,
    RecordsRejected,
    RequestRefused,
    SiteRateLimited,
    StorageError,
    Unauthenticated,
    UnsupportedEncoding,
)

log = logging.getLogger("netmon.collector")
# Bearer for agents and scripts; Basic so a browser asks for the token (as the password) on /docs
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="netmon", Basic realm="netmon"'}

STATUS: dict[type[RequestRefused], int] = {
    MalformedBody: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NoProbePlan: 404,
    BodyTooLarge: 413,
    UnsupportedEncoding: 415,
    InvalidBatch: 422,  # and RecordsRejected, its subclass
    SiteRateLimited: 429,
    CollectorBusy: 503,
}


def http_status(error: RequestRefused) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    raise TypeError(f"{type(error).__name__} has no HTTP status in collectors.http_errors.STATUS")


def answer_body(error: RequestRefused) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": error.detail}
    if isinstance(error, RecordsRejected):
        # a BatchAck plus detail: the agent drops exactly the rejected seqs and resends the rest
        body.update(accepted=0, duplicates=0, acked_seqs=[],
                    rejected=[r.model_dump(mode="json") for r in error.rejected])
    elif isinstance(error, InvalidBatch) and error.errors:
        body["errors"] = [e.model_dump() for e in error.errors]
    return body


def answer_headers(error: RequestRefused) -> dict[str, str]:
    headers = dict(CHALLENGE) if isinstance(error, Unauthenticated) else {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(int(error.retry_after))
    if isinstance(error, CutOff):
        headers[CUT_OFF_HEADER] = str(int(error.seconds))
    return headers


def install_error_handlers(app: FastAPI) -> None:
    async def refused(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestRefused)
        return JSONResponse(answer_body(exc), status_code=http_status(exc), headers=answer_headers(exc))

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's own answer echoes each bad input back: never the caller's bytes (and an input
        # like 1e400 is a float JSON cannot carry, which made that answer itself fail with a 500)
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error; see the collector's log"}, status_code=500)

    async def storage_down(request: Request, exc: Exception) -> JSONResponse:
        # a read of state that lives elsewhere (the shared PostgreSQL) failed: say so, briefly
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": f"state store unavailable: {exc}"}, status_code=503,
                            headers={"Retry-After": "5"})

    app.add_exception_handler(RequestRefused, refused)
    app.add_exception_handler(StorageError, storage_down)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, internal_error)
