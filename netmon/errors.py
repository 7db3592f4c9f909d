"""Every error netmon raises on purpose, in one module (docs/errors.md gives the rules).

Third-party exceptions (socket, pysnmp, httpx, sqlite3, influxdb-client, SMTP, grafana-client)
are converted into these where they enter our code, so a caller handles one family and a
user reads one sentence, never a traceback. The tree::

    NetmonError
    ├── ConfigError                 a config, rules or site registry file is wrong: file, line, key, message
    ├── AlreadyRegistered           a probe kind, channel kind, result sink or collector extension registered twice
    ├── NotRegistered               no probe kind or channel kind of that name is registered
    │
    ├── ProbeError                  a probe cannot run at all (source address, permission, key file):
    │   │                           the runner reports it as an ``error`` result with this text
    │   ├── IperfUnavailable        the iperf3 binary is not installed
    │   └── SnmpCredentialsUnusable  an SNMPv3 key is not configured, or its file is unreadable or empty
    ├── MeasurementFailure          what was measured did not answer usefully: the probe kind returns a
    │   │                           ``failed`` result with this text as reason (it never leaves the kind)
    │   ├── UnresolvableHost        the target's name does not resolve
    │   ├── IperfFailure            iperf3 ran but the test did not happen (refused, stopped at its limit)
    │   │   └── IperfServerBusy     the iperf3 server is running another test
    │   └── SnmpFailure             the SNMP agent could not be asked, or did not answer usefully
    │       ├── MissingInstance     an OID asked for does not exist (the ifIndex went away)
    │       └── UnknownInterface    no interface has the configured ifName/ifDescr, ifAlias or ifIndex
    │
    ├── DeliveryError               agent -> collector
    │   ├── CollectorUnavailable    5xx, or an unreadable acknowledgement: retry with backoff
    │   │   ├── CollectorUnreachable    no HTTP answer at all (connect error, timeout): our line is down
    │   │   └── RetryLater          429, or 503 with Retry-After: wait ``retry_after`` seconds
    │   └── CollectorRejected       4xx (and an unusable token file): resending the same bytes will not help
    │       └── BatchTooLarge       413: the shipper splits the batch
    ├── StorageError                SQLite (outbox, journal, site and alert state) or the TSDB
    │   ├── TSDBUnavailable         network, 5xx, auth: writes stay in the journal and are retried
    │   └── TSDBRejected            400, bad points, or 413: split the write, set refused points aside
    │
    ├── ChannelError                an alert channel failed to deliver (transient: retry with backoff)
    │   ├── ChannelRateLimited      retry after ``retry_after`` seconds
    │   └── ChannelRejected         permanent (bad chat id, bad address, bad token): give the row up
    ├── RequestRefused              the collector refuses a request; nothing from it was stored (``reason``)
    │   ├── Unauthenticated         no site token, or an unknown or revoked one
    │   ├── Forbidden               the token's site may not do this (another site's data)
    │   ├── NoProbePlan             the registry holds no probe plan for the site
    │   ├── MalformedBody           not JSON, corrupt or truncated gzip, bad Content-Length
    │   ├── BodyTooLarge            over limits.max_body_bytes (on the wire or decompressed)
    │   ├── UnsupportedEncoding     a Content-Encoding other than gzip
    │   ├── InvalidBatch            the batch breaks the wire contract (``errors``: field paths)
    │   │   └── RecordsRejected     some records do, or are over a limit (``rejected``: every one, with its paths)
    │   ├── SiteRateLimited         over limits.site_results_per_minute (``retry_after``)
    │   └── CollectorBusy           journal full or storage failing: resend after ``retry_after``
    │       └── CutOff              cut off from the shared state (PostgreSQL): ship to another collector
    ├── IncidentNotFound            no incident with that id (the API answers 404)
    ├── IncidentClosed              the incident is resolved and cannot be acknowledged (409)
    └── GrafanaPushError            Grafana refused a provisioning call, or did not answer

A network failure seen by a probe is a *result* (status ``failed``), not an exception that
reaches the agent: ``MeasurementFailure`` exists only so a probe kind's helpers can say why.
A branch (``DeliveryError``, ``MeasurementFailure``, ...) is raised through its leaves and
caught as a family. The registration errors are also a ``ValueError`` / ``KeyError``, and the
incident errors a ``KeyError`` / ``ValueError``, as the built-in they stand for.
``tests/test_errors.py`` keeps this docstring the tree of the classes below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netmon.contract import FieldError, RejectedRecord


class NetmonError(Exception):
    """Base of every error netmon raises on purpose."""


# -- configuration and registration --------------------------------------------------------


class ConfigError(NetmonError):
    def __init__(self, file: str, problems: list[tuple[str, int | None, str]]) -> None:
        self.file = file
        # (key path like "links[1].contracted_mbps", 1-based line or None, message)
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        """One problem: one line, ``file:line: key: message``; several: a count, then one line each."""
        lines = [f"{self.file}:{line}: {key or '(top level)'}: {message}" if line else
                 f"{self.file}: {key or '(top level)'}: {message}" for key, line, message in self.problems]
        if len(lines) == 1:
            return lines[0]
        return "\n".join([f"{self.file}: {len(lines)} problems", *(f"  {line}" for line in lines)])


class AlreadyRegistered(NetmonError, ValueError):
    """Registering a second plug-in under a name already taken: a programming error."""


class NotRegistered(NetmonError, KeyError):
    """Asking for a plug-in name nobody registered."""

    def __str__(self) -> str:  # KeyError would show the message quoted, as a key
        return str(self.args[0])


# -- probes ----------------------------------------------------------------------------------


class ProbeError(NetmonError):
    """The probe cannot run at all on this agent; ``probes.runner`` makes it an ``error`` result."""


class IperfUnavailable(ProbeError):
    """iperf3 could not be started at all (not installed)."""


class SnmpCredentialsUnusable(ProbeError):
    """The configured SNMPv3 credentials cannot be used (key missing, file unreadable or empty)."""


class MeasurementFailure(NetmonError):
    """The target or the path to it failed the measurement; the text is the result's reason."""


class UnresolvableHost(MeasurementFailure):
    pass


class IperfFailure(MeasurementFailure):
    """iperf3 ran but the test did not happen (refused, busy, timed out)."""

    def __init__(self, message: str, ran_seconds: float = 0.0) -> None:
        super().__init__(message)
        # how long traffic may have flowed before it was stopped (0: it never started)
        self.ran_seconds = ran_seconds


class IperfServerBusy(IperfFailure):
    """iperf3 -s runs one test at a time: another site's, or still tearing down our previous direction."""


class SnmpFailure(MeasurementFailure):
    """The agent could not be asked or did not answer usefully."""


class MissingInstance(SnmpFailure):
    """The agent answered, but an OID asked for does not exist (e.g. the ifIndex went away)."""


class UnknownInterface(SnmpFailure):
    """No interface of the agent has the configured ifName/ifDescr, ifAlias or ifIndex."""


# -- agent -> collector ----------------------------------------------------------------------


class DeliveryError(NetmonError):
    pass


class CollectorUnavailable(DeliveryError):
    pass


class CollectorUnreachable(CollectorUnavailable):
    """No HTTP answer (connect error, timeout): usually our own line is down."""


class RetryLater(CollectorUnavailable):
    def __init__(self, message: str, retry_after: float, status_code: int) -> None:
        self.retry_after = retry_after
        self.status_code = status_code
        super().__init__(message)


class CollectorRejected(DeliveryError):
    def __init__(self, status_code: int, message: str) -> None:
        self.status_code = status_code
        super().__init__(f"collector answered {status_code}: {message}")


class BatchTooLarge(CollectorRejected):
    pass


# -- storage -----------------------------------------------------------------------------------


class StorageError(NetmonError):
    pass


class TSDBUnavailable(StorageError):
    pass


class TSDBRejected(StorageError):
    def __init__(self, message: str, dropped: int, too_large: bool = False) -> None:
        super().__init__(message)
        # points the TSDB says it refused (InfluxDB's "dropped=N" plus its unparsable lines; all
        # lines sent when it does not say)
        self.dropped = dropped
        # the write as a whole was too big (413, "request too large"): smaller ones may pass
        self.too_large = too_large


# -- alerting ----------------------------------------------------------------------------------


class ChannelError(NetmonError):
    pass


class ChannelRateLimited(ChannelError):
    def __init__(self, message: str, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ChannelRejected(ChannelError):
    pass


class IncidentNotFound(NetmonError, KeyError):
    pass


class IncidentClosed(NetmonError, ValueError):
    pass


# -- dashboards --------------------------------------------------------------------------------


class GrafanaPushError(NetmonError):
    """Grafana refused a call or could not be reached."""


# -- the collector's refusals (raised by its services; HTTP status in collectors/http_errors.py) --


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
    """Some records are invalid or over a limit; none of the batch was stored. ``rejected`` lists
    every one; ``refused`` counts them by why (``invalid``, ``limits``, ``future``, ``too_old``,
    ``series_budget``), as ``netmon_site_refused_results_total`` does."""

    reason = "invalid_records"

    def __init__(self, detail: str, rejected: Sequence[RejectedRecord], refused: Mapping[str, int] | None = None
                 ) -> None:
        super().__init__(detail)
        self.rejected = list(rejected)
        self.refused = dict(refused) if refused is not None else {"invalid": len(self.rejected)}


class SiteRateLimited(RequestRefused):
    reason = "rate_limited"


class CollectorBusy(RequestRefused):
    reason = "overloaded"


class CutOff(CollectorBusy):
    """This collector has not reached the shared state for ``seconds`` (more than
    ``state.postgres.cut_off_after``): its agents should ship to another collector, where their
    sites stay visible to alerting (503 with ``X-Netmon-Cut-Off``)."""

    reason = "cut_off"

    def __init__(self, detail: str, *, seconds: float) -> None:
        super().__init__(detail, retry_after=10)
        self.seconds = seconds
