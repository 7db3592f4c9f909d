"""httpx/httpcore/ssl/socket exceptions -> one sentence a NOC operator can act on."""

from __future__ import annotations

import errno
import ssl


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def describe(exc: BaseException, where: str, timeout_seconds: float) -> str:
    import httpx

    chain = _chain(exc)
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            # "certificate has expired", "unable to get local issuer certificate", "Hostname mismatch, ..."
            return f"TLS certificate of {where} not accepted: {cause.verify_message or cause.reason}"
    for cause in chain:
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake with {where} failed: {cause.reason or cause}"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connecting to {where} timed out after {timeout_seconds:g} s"
    if isinstance(exc, httpx.ReadTimeout | httpx.PoolTimeout | httpx.WriteTimeout):
        return f"{where} did not answer within {timeout_seconds:g} s"
    for cause in chain:
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
            return f"connection to {where} refused"
        if isinstance(cause, OSError) and cause.errno is not None:
            return f"cannot connect to {where}: {cause.strerror or cause}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{where} broke the HTTP exchange: {exc}"
    return f"request to {where} failed: {type(exc).__name__}: {exc}"


def describe_statuses(codes: list[int]) -> str:
    """[200, 201, ..., 399] -> "200-399"; [200, 204] -> "200, 204"."""
    runs: list[list[int]] = []
    for code in sorted(set(codes)):
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
