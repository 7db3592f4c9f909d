"""The reference for bench/ingest_load.py: a bare FastAPI endpoint that only gunzips and validates
the same body (``BATCH_ADAPTER.validate_json``) — no auth, journal, dedupe or sinks."""

from __future__ import annotations

import zlib

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from netmon.contract import BATCH_ADAPTER, BatchAck

app = FastAPI()


@app.post("/api/v1/results")
async def results(request: Request) -> Response:
    raw = await request.body()
    if request.headers.get("content-encoding") == "gzip":
        raw = zlib.decompress(raw, 16 + zlib.MAX_WBITS)
    batch = BATCH_ADAPTER.validate_json(raw)
    ack = BatchAck(accepted=len(batch.results), duplicates=0, acked_seqs=[r.seq for r in batch.results])
    return Response(ack.model_dump_json(), media_type="application/json")
