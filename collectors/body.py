"""Read a request body within ``limits.max_body_bytes``, before and after gzip.

The limit applies twice: to the bytes on the wire (Content-Length and what actually arrives,
for chunked uploads) and to the decompressed body, so a small gzip bomb is refused after
reading at most ``max_bytes + 1`` decompressed bytes rather than filling memory.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import AsyncIterable

from netmon.errors import BodyTooLarge, MalformedBody, UnsupportedEncoding


@dataclasses.dataclass(frozen=True)
class Upload:
    """A request body as it arrives: the Content-Length header as sent (if any), and the chunks."""

    declared_length: str | None
    chunks: AsyncIterable[bytes]


def _too_large(what: str, max_bytes: int) -> BodyTooLarge:
    return BodyTooLarge(f"{what} exceeds the limit of {max_bytes} bytes (limits.max_body_bytes); "
                        "send fewer results per batch")


async def read_body(upload: Upload, max_bytes: int) -> bytes:
    length = upload.declared_length
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise MalformedBody(f"Content-Length {length!r} is not a number") from None
        if declared > max_bytes:
            raise _too_large(f"the request body ({declared} bytes)", max_bytes)
    chunks: list[bytes] = []
    total = 0
    async for chunk in upload.chunks:
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
        raise UnsupportedEncoding(f"Content-Encoding {encoding!r} is not supported; send gzip or no encoding")
    out: list[bytes] = []
    total = 0
    data = body
    while True:  # a gzip file may hold several members (RFC 1952), like `cat a.gz b.gz`
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = inflater.decompress(data, max_bytes + 1 - total)
        except zlib.error as exc:
            raise MalformedBody(f"the gzip body is corrupt ({exc}); resend the batch", reason="bad_gzip") from None
        total += len(chunk)
        out.append(chunk)
        if total > max_bytes:
            raise _too_large("the decompressed body", max_bytes)
        if not inflater.eof:
            raise MalformedBody(f"the gzip body is truncated: the stream ends after {len(body)} bytes without its "
                                "trailer; resend the whole batch", reason="bad_gzip")
        data = inflater.unused_data
        if not data:
            return b"".join(out)
