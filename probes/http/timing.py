"""Phase timings of one HTTP exchange from httpcore's ``trace`` request extension.

httpcore calls the trace callback with ``<layer>.<event>.started|complete|failed`` around
each step (``connection.connect_tcp``, ``connection.start_tls``,
``http11.send_request_headers``, ``http11.receive_response_headers``, and the ``http2.``
equivalents). We stamp each with a monotonic clock and keep the TLS stream so the peer
certificate can be read after the handshake.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any


class PhaseTimer:
    def __init__(self) -> None:
        self.stamps: dict[str, float] = {}
        self.tls_stream: Any = None

    async def trace(self, name: str, info: dict[str, Any]) -> None:
        # keep the first occurrence: a retried connect must not hide the first attempt's start
        self.stamps.setdefault(name.split(".", 1)[1] if name.startswith(("http11.", "http2.")) else name,
                               time.perf_counter())
        if name == "connection.start_tls.complete":
            self.tls_stream = info.get("return_value")

    def between(self, start: str, end: str) -> float | None:
        if start in self.stamps and end in self.stamps:
            return self.stamps[end] - self.stamps[start]
        return None

    def phases(self) -> dict[str, float]:
        out = {}
        for value, start, end in (
            ("connect_seconds", "connection.connect_tcp.started", "connection.connect_tcp.complete"),
            ("tls_seconds", "connection.start_tls.started", "connection.start_tls.complete"),
            # request sent -> response headers in: server think time plus one round trip
            ("first_byte_seconds", "send_request_headers.started", "receive_response_headers.complete"),
        ):
            seconds = self.between(start, end)
            if seconds is not None:
                out[value] = seconds
        return out

    def cert_not_after(self) -> dt.datetime | None:
        """Expiry of the certificate the server presented (also when verification is off)."""
        if self.tls_stream is None:
            return None
        ssl_object = self.tls_stream.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            return None
        from cryptography import x509

        return x509.load_der_x509_certificate(der).not_valid_after_utc
