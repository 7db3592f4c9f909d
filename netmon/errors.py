"""The project's error tree, in one place (docs/errors.md explains when each is raised).

Third-party exceptions (socket, pysnmp, httpx, sqlite3, influxdb-client, SMTP) are
converted into these where they enter our code, so callers handle one family.

    NetmonError
    ├── ConfigError            a config/rules/registry file is wrong (file, line, key, expected)
    ├── ProbeError             a probe could not run at all (not: the network failed)
    │   └── ProbeTimeout       cut off at its timeout
    ├── DeliveryError          agent -> collector
    │   ├── CollectorUnavailable   network/5xx: retry with backoff
    │   └── CollectorRejected      4xx: retrying the same bytes will not help
    ├── StorageError           SQLite/outbox/journal/TSDB
    │   └── TSDBUnavailable    InfluxDB down: keep in journal, retry
    ├── AuthError              bad/missing/revoked token, wrong site
    └── ChannelError           an alert channel failed to deliver
        ├── ChannelRateLimited     retry after ``retry_after`` seconds
        └── ChannelRejected        permanent (bad chat id, bad address)

A network failure seen by a probe is *not* an exception: it is a result with status
``failed`` and a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netmon.contract import FieldError, RejectedRecord


class NetmonError(Exception):
    """Base of every error netmon raises on purpose."""


class ConfigError(NetmonError):
    def __init__(self, file: str, problems: list[tuple[str, int | None, str]]) -> None:
        self.file = file
        # (key path like "links[1].contracted_mbps", 1-based line or None, message)
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.file}: {len(self.problems)} problem(s)"]
        for key, line, message in self.problems:
            where = f"{self.file}:{line}" if line else self.file
            lines.append(f"  {where}: {key or '(top level)'}: {message}")
        return "\n".join(lines)


class ProbeError(NetmonError):
    pass


class ProbeTimeout(ProbeError):
    pass


class DeliveryError(NetmonError):
    pass


class CollectorUnavailable(DeliveryError):
    pass


class CollectorRejected(DeliveryError):
    def __init__(self, status_code: int, message: str) -> None:
        self.status_code = status_code
        super().__init__(f"collector answered {status_code}: {message}")


class StorageError(NetmonError):
    pass


class TSDBUnavailable(StorageError):
    pass


class AuthError(NetmonError):
    pass


class ChannelError(NetmonError):
    pass


class ChannelRateLimited(ChannelError):
    def __init__(self, message: str, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ChannelRejected(ChannelError):
    pass


# --- The collector's refusals -------------------------------------------------------------------
# (block kept apart from the tree above so parallel edits merge; fold into the docstring's tree)
#
#   NetmonError
#   └── RequestRefused          the collector refuses a request; nothing from it was stored
#       ├── Unauthenticated         no site token, or an unknown or revoked one
#       ├── Forbidden               the token's site may not do this (another site's data)
#       ├── NoProbePlan             the registry holds no probe plan for the site
#       ├── MalformedBody           not JSON, corrupt or truncated gzip, bad Content-Length
#       ├── BodyTooLarge            over limits.max_body_bytes (on the wire or decompressed)
#       ├── UnsupportedEncoding     a Content-Encoding other than gzip
#       ├── InvalidBatch            the batch breaks the wire contract (``errors``: field paths)
#       │   └── RecordsRejected         some records do (``rejected``: every one, with its paths)
#       ├── SiteRateLimited         over limits.site_results_per_minute (``retry_after``)
#       └── CollectorBusy           journal full or storage failing: resend after ``retry_after``
#
# Raised by the collector's services (collectors/ingest.py, auth.py, surge.py, validate.py,
# body.py); the HTTP status of each is decided in one place, collectors/http_errors.py.

class RequestRefused(NetmonError):
    """A request the collector refuses. ``reason`` is the short label counted in
    ``netmon_collector_rejected_requests_total{reason}``; ``retry_after`` (seconds) is set when
    sending the same request later may succeed."""

    reason = "refused"

    def __init__(self, detail: str, *, reason: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason = reason or type(self).reason
        self.retry_after = retry_after


class Unauthenticated(RequestRefused):
    reason = "unauthorized"


class Forbidden(RequestRefused):
    reason = "forbidden"


class NoProbePlan(RequestRefused):
    reason = "no_plan"


class MalformedBody(RequestRefused):
    reason = "bad_request"


class BodyTooLarge(RequestRefused):
    reason = "too_large"


class UnsupportedEncoding(RequestRefused):
    reason = "bad_encoding"


class InvalidBatch(RequestRefused):
    reason = "invalid_batch"

    def __init__(self, detail: str, *, reason: str | None = None, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail, reason=reason)
        self.errors = list(errors)


class RecordsRejected(InvalidBatch):
    """Some records are invalid; none of the batch was stored. ``rejected`` lists every one."""

    reason = "invalid_records"

    def __init__(self, detail: str, rejected: Sequence[RejectedRecord]) -> None:
        super().__init__(detail)
        self.rejected = list(rejected)


class SiteRateLimited(RequestRefused):
    reason = "rate_limited"


class CollectorBusy(RequestRefused):
    reason = "overloaded"
