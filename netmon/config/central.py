"""The central (collector) configuration file, ``central.yaml``, and ``load_central`` that reads it.

Sections owned by later parts of the stack (``alerting``, ``readiness``) are validated
by their own models; each part extends this file's model, never copies it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from netmon.config.alerting import AlertingConfig
from netmon.config.loader import load_model
from netmon.config.readiness import ReadinessConfig
from netmon.config.site import Strict
from netmon.config.units import Bytes, PositiveSeconds
from netmon.contract import TEXT_MAX_CHARS, ProbeKind


class ListenAddress(Strict):
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


class Listen(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # One line per request costs ~10 % of ingest throughput; off unless debugging.
    access_log: bool = False
    # How long an idle agent connection stays open. Longer than the agents' ship interval (10 s)
    # and their own idle limit (probes/agent/delivery.py, 60 s), so an agent reuses one connection
    # (and one TLS session) instead of a new handshake per batch; uvicorn's default is 5 s.
    keep_alive_seconds: int = Field(default=75, ge=1, le=3600)
    # HTTPS straight from the collector (agents verify it with their ca_file); or leave both
    # unset and terminate TLS at a reverse proxy in front of it.
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    # A second address for people and Prometheus (status, metrics, incidents, readiness, docs):
    # the agents' port then serves only the agent routes (collectors/ports.py). Same TLS.
    viewer: ListenAddress | None = None

    @model_validator(mode="after")
    def _tls_pair(self) -> Listen:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("set both tls_cert_file and tls_key_file, or neither")
        if self.viewer is not None and self.viewer.port == self.port:
            raise ValueError("listen.viewer needs a port of its own (the routes are told apart by port)")
        return self


class InfluxConfig(Strict):
    url: str = Field(pattern=r"^https?://")
    # The target's name in the journal (its own write cursor), metrics and the status API. Default:
    # the URL. Renaming a target starts it afresh from what is still pending.
    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:/@-]+$")
    api: Literal["v1", "v2"] = "v2"
    # v1 (InfluxDB 1.x /write)
    database: str | None = None
    username: str | None = None
    password_file: str | None = None
    retention_policy: str | None = None
    # v2 (/api/v2/write: InfluxDB 2.x/3.x, VictoriaMetrics and other line-protocol stores)
    org: str | None = None
    bucket: str | None = None
    token_file: str | None = None
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    # A write never carries more than this many bytes of line protocol (InfluxDB 1.x refuses bodies
    # over 25 MB, VictoriaMetrics over 32 MB); a bigger single point is sent alone.
    batch_max_bytes: Bytes = Field(default=4 * 2**20, ge=1024)
    flush_interval: PositiveSeconds = 1.0
    timeout: PositiveSeconds = 10.0

    @model_validator(mode="after")
    def _api_fields(self) -> InfluxConfig:
        if self.api == "v1" and not self.database:
            raise ValueError("influxdb api v1 needs 'database'")
        if self.api == "v2" and not (self.bucket and self.org is not None):
            raise ValueError("influxdb api v2 needs 'org' and 'bucket'")
        return self

    @property
    def target_name(self) -> str:
        return self.name or self.url.rstrip("/")


class Limits(Strict):
    """What one site may send (docs/security.md lists each limit with its reason). A record over a
    limit is refused 422 with its field path, the rest of its batch is resent; counted per site."""

    max_body_bytes: Bytes = 4 * 2**20
    # Per site: results per minute before 429 (a normal site sends ~80; a backlog drain more).
    site_results_per_minute: int = Field(default=60_000, ge=1)
    # One record's size: the bytes of its text (ids, names, host, reason, info keys and values)
    # plus 16 per number. The agents' largest (a path result with its hop list) is under 2 KiB.
    max_record_bytes: Bytes = Field(default=8 * 2**10, ge=1024)
    # A record's ``info``: how many entries, and the bytes of their keys and values together.
    max_info_entries: int = Field(default=16, ge=0, le=1000)
    max_info_bytes: Bytes = Field(default=4 * 2**10, ge=0)
    # ``reason`` and each ``info`` value, in characters (the wire contract's own cap is 500).
    max_text_chars: int = Field(default=TEXT_MAX_CHARS, ge=1, le=TEXT_MAX_CHARS)
    # Series (probe, link, target) a site may add beyond what the registry knows of it (its links,
    # and the targets, links and platforms of its plan). A commune measures a few dozen; InfluxDB
    # 1.x refuses new series past 1 M per database, ~300 per site for the whole country.
    site_unplanned_series: int = Field(default=100, ge=0, le=100_000)
    # Results stamped further ahead of the collector's clock are refused (a broken clock: 2100).
    max_future_skew: PositiveSeconds = 300.0
    # Results stamped longer ago are refused (a broken clock: 2000). It must cover the agents'
    # outbox.max_age (7 d), or the backlog of a commune offline for a week would be refused and lost.
    max_result_age: PositiveSeconds = 8 * 86400.0
    # A site whose agent's clock is further off than this is shown as off (/metrics, status API).
    max_clock_offset: PositiveSeconds = 10.0


class JournalConfig(Strict):
    """The collector's SQLite accept journal (docs/collector.md, "State layout")."""

    # WAL + FULL: a 200 survives power loss, not only a crash; group commit amortises the fsync.
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    # Batches already written to the TSDB are kept this long after they arrived (live-state rebuild,
    # audits, points a TSDB refused), whatever they are stamped: disk, not what is accepted.
    retention: PositiveSeconds = 2 * 86400.0
    # Beyond this many results waiting for the TSDB, ingest answers 503 + Retry-After and the
    # agents' outboxes hold the data instead of the centre's disk.
    max_pending_results: int = Field(default=20_000_000, ge=1000)
    # A gap in an agent's sequence numbers is closed (later arrivals count as duplicates) this
    # long after the first seq above it arrived; it must exceed the agents' outbox.max_age (7 d).
    dedupe_gap_close_after: PositiveSeconds = 8 * 86400.0
    dedupe_max_gaps_per_agent: int = Field(default=10_000, ge=10)
    # How often gaps are closed and written rows past retention pruned.
    maintenance_interval: PositiveSeconds = 60.0


class SurgeConfig(Strict):
    """Go-live surge: provinces whose agents get faster probe options merged over their plan.

    Edited here and applied with SIGHUP (no restart); agents pick it up at their next config poll.
    """

    provinces: list[str] = Field(default_factory=list)
    # Per-kind option overrides, e.g. {icmp: {interval: 10s}}; validated by the agent's probe models.
    probes: dict[str, dict[str, Any]] = Field(default_factory=dict)
    until: datetime | None = Field(default=None, description="surge switches itself off after this time")

    @field_validator("probes")
    @classmethod
    def _known_kinds(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        known = {k.value for k in ProbeKind}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown probe kind(s) {unknown}; known: {', '.join(sorted(known))}")
        return value


class PostgresStateConfig(Strict):
    # File holding a libpq connection string or URI ("postgresql://netmon:...@db1,db2/netmon
    # ?target_session_attrs=read-write" for an HA pair), like the other secret files.
    dsn_file: str
    connect_timeout: PositiveSeconds = 5.0
    # Cut off from PostgreSQL for longer than this while its agents still reach it, a collector
    # answers their uploads 503 (X-Netmon-Cut-Off) so they ship to another collector, where alerting
    # still sees them; null: never (one collector on PostgreSQL has nowhere to send them).
    cut_off_after: PositiveSeconds | None = 30.0


class StateConfig(Strict):
    """Where the collector keeps state that several collectors must share (docs/scaling.md).

    Nothing set: SQLite files in ``state_dir`` (one collector). ``postgres``: incidents,
    silences, the notification queue, alert baselines and last-seen times in PostgreSQL, so
    several collectors can run side by side. The accept journal stays local either way."""

    postgres: PostgresStateConfig | None = None
    # This collector's name in shared state (who saw a site last, who sends notifications).
    # Default: host name and listen port.
    instance: str | None = Field(default=None, min_length=1, max_length=100)


class CentralConfig(Strict):
    listen: Listen = Field(default_factory=Listen)
    state_dir: str = "/var/lib/netmon"
    registry: str = Field(description="site registry, YAML or CSV")
    # One TSDB, or a list: the drainer writes every result to each, with a cursor of its own per
    # target, so one store being down never holds back another. Dashboards and readiness query
    # the first.
    influxdb: InfluxConfig | list[InfluxConfig] | None = None
    # Base URL of Grafana, for links to a site's dashboard in alert messages and reports.
    grafana_url: str | None = None
    # How often agents ship; a site is "silent" after several of these without a result.
    expected_ship_interval: PositiveSeconds = 10.0
    limits: Limits = Field(default_factory=Limits)
    journal: JournalConfig = Field(default_factory=JournalConfig)
    surge: SurgeConfig | None = None
    alerting: AlertingConfig | None = None
    readiness: ReadinessConfig = Field(default_factory=ReadinessConfig)
    state: StateConfig = Field(default_factory=StateConfig)

    @field_validator("influxdb")
    @classmethod
    def _distinct_targets(cls, value: InfluxConfig | list[InfluxConfig] | None
                          ) -> InfluxConfig | list[InfluxConfig] | None:
        if isinstance(value, list):
            if not value:
                raise ValueError("an empty list: leave influxdb out to run without a TSDB")
            names = [t.target_name for t in value]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"two TSDB targets with the same name: {', '.join(repeated)} (set 'name')")
        return value

    @property
    def tsdb_targets(self) -> list[InfluxConfig]:
        """Every TSDB the drainer writes to, in the order given."""
        if self.influxdb is None:
            return []
        return self.influxdb if isinstance(self.influxdb, list) else [self.influxdb]

    @property
    def query_influx(self) -> InfluxConfig | None:
        """The TSDB dashboards and readiness query: the first target."""
        targets = self.tsdb_targets
        return targets[0] if targets else None


def load_central(path: str | Path) -> CentralConfig:
    """Load central.yaml; relative paths in it (registry, state_dir, secret files) are relative to the file.

    Raises ConfigError naming file, line and key. Anything that reads central.yaml (collector,
    dashboards, readiness, deploy checks, the CLI) calls this, without importing the collector."""
    path = Path(path)
    config = load_model(path, CentralConfig)
    base = path.resolve().parent

    def anchored(value: str | None) -> str | None:
        return value if value is None or Path(value).is_absolute() else str(base / value)

    update: dict[str, object] = {"registry": anchored(config.registry), "state_dir": anchored(config.state_dir),
                                 "listen": config.listen.model_copy(update={
                                     "tls_cert_file": anchored(config.listen.tls_cert_file),
                                     "tls_key_file": anchored(config.listen.tls_key_file)})}
    if config.influxdb is not None:
        targets = [t.model_copy(update={"token_file": anchored(t.token_file),
                                        "password_file": anchored(t.password_file)}) for t in config.tsdb_targets]
        update["influxdb"] = targets if isinstance(config.influxdb, list) else targets[0]
    if config.state.postgres is not None:
        postgres = config.state.postgres
        update["state"] = config.state.model_copy(update={
            "postgres": postgres.model_copy(update={"dsn_file": anchored(postgres.dsn_file)})})
    if config.alerting is not None:
        alerting = config.alerting
        channels = [channel.model_copy(update={name: anchored(getattr(channel, name))
                                               for name in CHANNEL_FILES if name in type(channel).model_fields})
                    for channel in alerting.channels]
        update["alerting"] = alerting.model_copy(update={
            "rules_file": anchored(alerting.rules_file), "admin_token_file": anchored(alerting.admin_token_file),
            "channels": channels})
    return config.model_copy(update=update)


# Files a channel reads (secrets, a private CA) or writes (the console channel's log)
CHANNEL_FILES = ("token_file", "password_file", "bearer_token_file", "ca_file", "path")
