"""``POST /api/v1/results``: the HTTP face of ``IngestService.accept``.

The handler takes the raw request (no FastAPI body parameter): the body is validated once,
from bytes, by ``collectors.validate``. A refusal propagates as a ``RequestRefused`` and is
answered by the app's handler (``collectors/http_errors.py``); docs/collector.md lists every
status code and what the agent should do with it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from netmon.collectors.api_models import ErrorBody
from netmon.collectors.auth import bearer_token
from netmon.collectors.body import Upload
from netmon.collectors.ingest import IngestService
from netmon.contract import CLOCK_OFFSET_HEADER, LAST_RESORT_HEADER, BatchAck


def _error_docs() -> dict[int | str, dict[str, Any]]:
    codes = {400: "not JSON, or truncated/corrupt gzip", 401: "missing, invalid or revoked token",
             403: "not a site token; the token's site differs from the batch's or a record's site_id; the "
             "batch's agent_id is not the token's agent", 413: "body too large "
             "(on the wire or decompressed)", 415: "unsupported Content-Encoding", 422: "invalid batch; when "
             "'rejected' is present it lists every invalid record (contract, limits, time window, series "
             "budget) and nothing was written",
             429: "site over its rate limit; see Retry-After", 503: "journal full or unavailable, or (with "
             "X-Netmon-Cut-Off) this collector is cut off from the shared state: send to another collector; "
             "see Retry-After"}
    return {code: {"model": ErrorBody, "description": text} for code, text in codes.items()}


def make_router(ingest: IngestService) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/api/v1/results", response_model=BatchAck, responses=_error_docs(), tags=["ingest"],
        summary="Submit a batch of results (gzip allowed); 200 means committed to the journal",
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ResultBatch"}}}},
            "security": [{"siteToken": []}],
            "parameters": [{"name": CLOCK_OFFSET_HEADER, "in": "header", "required": False,
                            "schema": {"type": "number"},
                            "description": "the agent's clock minus the collector's (seconds), from its Date answers"},
                           {"name": LAST_RESORT_HEADER, "in": "header", "required": False,
                            "schema": {"type": "string", "enum": ["1"]},
                            "description": "1: every collector the agent knows answered cut off; store it anyway"}],
        })
    async def post_results(request: Request) -> Response:
        headers = request.headers
        ack = await ingest.accept(bearer_token(headers.get("authorization")),
                                  Upload(headers.get("content-length"), request.stream()),
                                  headers.get("content-encoding"), headers.get(CLOCK_OFFSET_HEADER),
                                  last_resort=headers.get(LAST_RESORT_HEADER) == "1")
        return Response(ack.model_dump_json(), media_type="application/json")

    return router
