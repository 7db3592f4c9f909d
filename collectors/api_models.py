"""Response models of the status API (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from netmon.contract import LinkKind, ProbeKind, Status


class ErrorBody(BaseModel):
    detail: Any = Field(description="a clear message (a list of field errors for FastAPI's own 422)")


class LatestResult(BaseModel):
    probe: ProbeKind
    link: str | None
    target: str
    status: Status
    reason: str | None
    time_ns: int
    values: dict[str, float]


class LinkState(BaseModel):
    name: str
    kind: LinkKind
    contracted_bps: float | None
    rtt_seconds: float | None = Field(description="newest average RTT of an icmp/udp_echo result on the link")
    loss_ratio: float | None
    utilisation_ratio: float | None = Field(description="of the contracted rate, from the newest snmp_if result")
    updated_ns: int | None
    results: list[LatestResult]


class SiteStats(BaseModel):
    site_id: str
    name: str
    province: str
    district: str | None
    accepted: int
    duplicate: int
    rejected: int
    agent_dropped_total: int = Field(description="results the agent reports dropping from its full outbox")
    last_seen_ns: int | None
    last_report_age_seconds: float | None
    tsdb_points_set_aside: int = Field(default=0, description="points a TSDB target refused, kept in the journal")
    clock_offset_seconds: float | None = Field(description="the agent's clock minus the collector's, as last seen")
    clock_off: bool = Field(description="the clock is further off than limits.max_clock_offset")
    unplanned_series: int = Field(description="series the registry does not plan (limits.site_unplanned_series)")


class SiteDetail(SiteStats):
    links: list[LinkState]
    other_results: list[LatestResult] = Field(description="results not tied to a link (platforms, agent)")


class TsdbTargetState(BaseModel):
    name: str
    up: bool = Field(description="the last write to it succeeded (or it refused points: it answers)")
    write_lag_seconds: float = Field(description="age of the oldest accepted result it does not hold yet")
    points_written: int
    points_set_aside: int = Field(description="points it refused, kept in the journal (until retention)")
    write_errors: int


class CollectorTotals(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    journal_pending_results: int
    tsdb_write_lag_seconds: float = Field(description="the largest of the targets' write lags")
    tsdb_up: bool = Field(description="every TSDB target is up")
    surge_provinces: list[str]
    tsdb_targets: list[TsdbTargetState] = Field(default_factory=list)
    sites_clock_off: list[str] = Field(description="sites whose agent's clock is off (limits.max_clock_offset)")


class StatsResponse(BaseModel):
    totals: CollectorTotals
    sites: list[SiteStats]


class Health(BaseModel):
    status: str
