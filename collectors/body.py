"""Read a request body within ``limits.max_body_bytes``, before and after gzip.

The limit applies twice: to the bytes on the wire (Content-Length and what actually arrives,
for chunked uploads) and to the decompressed body, so a small gzip bomb is refused after
reading at most ``max_bytes + 1`` decompressed bytes rather than filling memory.
"""

from __future__ import annotations

import zlib

from starlette.requests import Request

from netmon.collectors.http_errors import ApiError


def _too_large(what: str, max_bytes: int) -> ApiError:
    return ApiError(413, f"{what} exceeds the limit of {max_bytes} bytes (limits.max_body_bytes); "
                         "send fewer results per batch", reason="too_large")


async def read_body(request: Request, max_bytes: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise ApiError(400, f"Content-Length {length!r} is not a number", reason="bad_request") from None
        if declared > max_bytes:
            raise _too_large(f"the request body ({declared} bytes)", max_bytes)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_bytes:
            raise _too_large("the request body", max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def decode(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise ApiError(415, f"Content-Encoding {encoding!r} is not supported; send gzip or no encoding",
                       reason="bad_encoding")
    out: list[bytes] = []
    total = 0
    data = body
    while True:  # a gzip file may hold several members (RFC 1952), like `cat a.gz b.gz`
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = inflater.decompress(data, max_bytes + 1 - total)
        except zlib.error as exc:
            raise ApiError(400, f"the gzip body is corrupt ({exc}); resend the batch", reason="bad_gzip") from None
        total += len(chunk)
        out.append(chunk)
        if total > max_bytes:
            raise _too_large("the decompressed body", max_bytes)
        if not inflater.eof:
            raise ApiError(400, f"the gzip body is truncated: the stream ends after {len(body)} bytes without its "
                                "trailer; resend the whole batch", reason="bad_gzip")
        data = inflater.unused_data
        if not data:
            return b"".join(out)
