"""The readiness report as data: what the API returns as JSON and the HTML/CSV renderers read."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from netmon.config.readiness import ReadinessConfig

Unit = Literal["s", "ratio", "bps"]
Comparison = Literal["<=", ">="]


class Check(BaseModel):
    """One requirement for one commune: the measured value against the limit."""

    key: str = Field(description="data_network.rtt, throughput.download, platform.<name>.response, reporting, ...")
    title: str = Field(description="what is checked, in Vietnamese")
    passed: bool
    measured: float | None = Field(description="null when there was no data in the window (counts as failed)")
    limit: float
    comparison: Comparison
    unit: Unit
    reason: str | None = Field(default=None, description="why it failed, in Vietnamese, with the measured value")


class SiteReadiness(BaseModel):
    site_id: str
    name: str
    district: str | None = None
    ready: bool
    reasons: list[str] = Field(description="why the commune is not ready, in Vietnamese (empty when ready)")
    checks: list[Check]


class NotReady(BaseModel):
    site_id: str
    name: str
    reasons: list[str]


class Summary(BaseModel):
    sites: int
    ready: int
    not_ready: int
    ready_ratio: float = Field(description="share of communes ready, 0..1 (0 when the province has no site)")


class ReadinessReport(BaseModel):
    province: str
    generated_at: dt.datetime
    window_start: dt.datetime
    window_end: dt.datetime
    summary: Summary
    not_ready: list[NotReady]
    sites: list[SiteReadiness]
    requirements: ReadinessConfig
    source: str = Field(description="where the numbers come from")
