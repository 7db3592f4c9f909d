"""Read what each commune of a province measured over the report window, from InfluxDB."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from netmon.config.readiness import ReadinessConfig
from netmon.dashboards.influx import InfluxQLClient, QuerySeries
from netmon.dashboards.readiness import queries
from netmon.dashboards.templating import Variable, interpolate


@dataclasses.dataclass
class PlatformMeasurement:
    probes: int = 0
    ok: int = 0
    response_seconds: float | None = None

    @property
    def success_ratio(self) -> float | None:
        return self.ok / self.probes if self.probes else None


@dataclasses.dataclass
class SiteMeasurements:
    rtt_seconds: float | None = None
    jitter_seconds: float | None = None
    loss_ratio: float | None = None
    download_bps: float | None = None
    upload_bps: float | None = None
    reporting_ratio: float | None = None
    platforms: dict[str, PlatformMeasurement] = dataclasses.field(default_factory=dict)
    # link name -> the configured percentile of its utilisation of the contracted rate
    utilisation: dict[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Window:
    """The report window in whole reporting buckets: [start_ms, end_ms)."""

    start_ms: int
    end_ms: int

    @classmethod
    def ending_at(cls, now_ms: int, config: ReadinessConfig) -> Window:
        bucket_ms = round(config.reporting.bucket * 1000)
        end = now_ms // bucket_ms * bucket_ms
        start = end - round(config.window * 1000) // bucket_ms * bucket_ms
        return cls(start_ms=start, end_ms=end)

    def buckets(self, config: ReadinessConfig) -> int:
        return max(1, (self.end_ms - self.start_ms) // round(config.reporting.bucket * 1000))


def _first(series: QuerySeries) -> dict[str, Any]:
    rows = series.rows()
    return rows[0] if rows else {}


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def measure(client: InfluxQLClient, province: str, config: ReadinessConfig, window: Window
            ) -> dict[str, SiteMeasurements]:
    """Site id -> what it measured. Sites with no data at all are absent."""
    variables = {"province": Variable.single(province)}

    def run(query: str) -> list[QuerySeries]:
        # The window end is exclusive: a bucket starting at end_ms belongs to the next report.
        return client.query(interpolate(query, variables, time_from_ms=window.start_ms,
                                        time_to_ms=window.end_ms - 1, interval_seconds=config.reporting.bucket))

    sites: dict[str, SiteMeasurements] = {}

    def site(series: QuerySeries) -> SiteMeasurements:
        return sites.setdefault(series.tags.get("site", ""), SiteMeasurements())

    def each(query: str, apply: Callable[[SiteMeasurements, QuerySeries, dict[str, Any]], None]) -> None:
        for series in run(query):
            apply(site(series), series, _first(series))

    def data_network(m: SiteMeasurements, _: QuerySeries, row: dict[str, Any]) -> None:
        m.rtt_seconds, m.jitter_seconds = _float(row.get("rtt_seconds")), _float(row.get("jitter_seconds"))
        m.loss_ratio = _float(row.get("loss_ratio"))

    def throughput(m: SiteMeasurements, _: QuerySeries, row: dict[str, Any]) -> None:
        m.download_bps, m.upload_bps = _float(row.get("download_bps")), _float(row.get("upload_bps"))

    def response(m: SiteMeasurements, s: QuerySeries, row: dict[str, Any]) -> None:
        platform = m.platforms.setdefault(s.tags.get("target", ""), PlatformMeasurement())
        platform.probes = int(row.get("probes") or 0)
        platform.response_seconds = _float(row.get("response_seconds"))

    def ok(m: SiteMeasurements, s: QuerySeries, row: dict[str, Any]) -> None:
        m.platforms.setdefault(s.tags.get("target", ""), PlatformMeasurement()).ok = int(row.get("ok") or 0)

    def utilisation(m: SiteMeasurements, s: QuerySeries, row: dict[str, Any]) -> None:
        ratio = _float(row.get("utilisation_ratio"))
        if ratio is not None:
            m.utilisation[s.tags.get("link", "")] = ratio

    each(queries.data_network(config), data_network)
    if config.throughput is not None:
        each(queries.throughput(config), throughput)
    if config.utilisation is not None:
        each(queries.utilisation(config), utilisation)
    each(queries.platform_response(config), response)
    each(queries.platform_ok(), ok)
    total = window.buckets(config)
    for series in run(queries.reporting(config)):
        live = sum(1 for row in series.values if (row[1] or 0) > 0)
        site(series).reporting_ratio = min(1.0, live / total)
    return sites


def sites_in_tsdb(client: InfluxQLClient, province: str) -> list[str]:
    """Every site that ever sent a heartbeat for this province (when no registry is at hand)."""
    statement = interpolate(queries.sites(), {"province": Variable.single(province)}, time_from_ms=0,
                            time_to_ms=0, interval_seconds=60)
    return sorted({row[1] for series in client.query(statement) for row in series.values})
