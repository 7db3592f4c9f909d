"""The central (collector) configuration file, ``central.yaml``.

Sections owned by later parts of the stack (``alerting``, ``readiness``) are validated
by their own models; each part extends this file's model, never copies it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from netmon.config.readiness import ReadinessConfig
from netmon.config.site import Strict
from netmon.config.units import Bytes, PositiveSeconds


class Listen(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class InfluxConfig(Strict):
    url: str = Field(pattern=r"^https?://")
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
    flush_interval: PositiveSeconds = 1.0
    timeout: PositiveSeconds = 10.0

    @model_validator(mode="after")
    def _api_fields(self) -> InfluxConfig:
        if self.api == "v1" and not self.database:
            raise ValueError("influxdb api v1 needs 'database'")
        if self.api == "v2" and not (self.bucket and self.org is not None):
            raise ValueError("influxdb api v2 needs 'org' and 'bucket'")
        return self


class Limits(Strict):
    max_body_bytes: Bytes = 4 * 2**20
    # Per site: results per minute before 429 (a normal site sends ~80; a backlog drain more).
    site_results_per_minute: int = Field(default=60_000, ge=1)


class CentralConfig(Strict):
    listen: Listen = Field(default_factory=Listen)
    state_dir: str = "/var/lib/netmon"
    registry: str = Field(description="site registry, YAML or CSV")
    influxdb: InfluxConfig | None = None
    # Base URL of Grafana, for links to a site's dashboard in alert messages and reports.
    grafana_url: str | None = None
    # How often agents ship; a site is "silent" after several of these without a result.
    expected_ship_interval: PositiveSeconds = 10.0
    limits: Limits = Field(default_factory=Limits)
    alerting: dict[str, Any] | None = None
    readiness: ReadinessConfig = Field(default_factory=ReadinessConfig)
