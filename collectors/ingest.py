"""``POST /api/v1/results``: authenticate, read, validate, rate-limit, commit, then run the sinks.

The handler takes the raw request (no FastAPI body parameter): the body is validated once,
from bytes, by ``collectors.validate``. A 200 is sent only after the journal commit; see
docs/collector.md for every status code and what the agent should do with it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from netmon.collectors.api_models import ErrorBody
from netmon.collectors.auth import authenticate
from netmon.collectors.body import decode, read_body
from netmon.collectors.http_errors import ApiError
from netmon.collectors.validate import parse_batch
from netmon.contract import BatchAck
from netmon.errors import StorageError

if TYPE_CHECKING:
    from netmon.collectors.core import CollectorCore

log = logging.getLogger("netmon.collector.ingest")
router = APIRouter()


def _error_docs() -> dict[int | str, dict[str, Any]]:
    codes = {400: "not JSON, or truncated/corrupt gzip", 401: "missing, invalid or revoked token",
             403: "the token's site differs from the batch's or a record's site_id", 413: "body too large "
             "(on the wire or decompressed)", 415: "unsupported Content-Encoding", 422: "invalid batch; when "
             "'rejected' is present it lists every invalid record and nothing was written",
             429: "site over its rate limit; see Retry-After", 503: "journal full or unavailable; see Retry-After"}
    return {code: {"model": ErrorBody, "description": text} for code, text in codes.items()}


@router.post(
    "/api/v1/results", response_model=BatchAck, responses=_error_docs(), tags=["ingest"],
    summary="Submit a batch of results (gzip allowed); 200 means committed to the journal",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ResultBatch"}}}},
        "security": [{"siteToken": []}],
    })
async def post_results(request: Request) -> Response:
    core: CollectorCore = request.app.state.core
    started = time.perf_counter()
    site_id = "?"
    try:
        site = authenticate(core, request)
        site_id = site.id
        limit = core.config.limits.max_body_bytes
        wire = await read_body(request, limit)
        encoding = request.headers.get("content-encoding")
        raw = decode(wire, encoding, limit)
        try:
            batch = parse_batch(raw, site.id)
        except ApiError as exc:
            if exc.reason == "invalid_records":
                rejected = len(exc.extra["rejected"])
                core.metrics.results.labels("rejected").inc(rejected)
                core.journal.note_rejected(site.id, rejected)
            raise
        if core.journal.pending >= core.config.journal.max_pending_results:
            raise ApiError(503, "the collector's journal is full while the TSDB catches up; keep the results in "
                                "the outbox and retry", reason="overloaded", headers={"Retry-After": "30"})
        wait_seconds = core.limiter.admit(site.id, len(batch.results))
        if wait_seconds:
            raise ApiError(429, f"site {site.id} is over its limit of {core.config.limits.site_results_per_minute} "
                                f"results per minute; retry in {wait_seconds:.0f} s", reason="rate_limited",
                           headers={"Retry-After": str(int(wait_seconds))})
        try:
            # the journal keeps the body as it came: gzip stays gzip
            gzipped = raw is not wire
            outcome = await core.journal.commit(batch, wire, gzipped, site.province, site.district)
        except StorageError as exc:
            raise ApiError(503, f"the batch could not be stored ({exc}); it was not accepted, resend it",
                           reason="storage_error", headers={"Retry-After": "5"}) from exc
    except ApiError as exc:
        core.metrics.rejected_requests.labels(exc.reason).inc()
        if exc.status != 401:
            log.warning("site %s: %d %s: %s", site_id, exc.status, exc.reason, exc.detail)
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)
    metrics = core.metrics
    metrics.batches.inc()
    if outcome.accepted:
        metrics.results.labels("accepted").inc(len(outcome.accepted))
    if outcome.duplicates:
        metrics.results.labels("duplicate").inc(outcome.duplicates)
    metrics.ingest_seconds.observe(time.perf_counter() - started)
    await core.sinks.dispatch(site, outcome.accepted)
    ack = BatchAck(accepted=len(outcome.accepted), duplicates=outcome.duplicates, acked_seqs=outcome.acked_seqs)
    return Response(ack.model_dump_json(), media_type="application/json")
