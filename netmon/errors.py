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
