"""Status endpoints: ``/healthz`` (open: liveness), and for the viewer role and above ``/metrics``,
``/api/v1/stats``, ``/api/v1/sites/{site_id}``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from fastapi import APIRouter, Depends, HTTPException
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.responses import Response

from netmon.collectors.abc import Principal, Role
from netmon.collectors.api_models import (
    CollectorTotals,
    ErrorBody,
    Health,
    LatestResult,
    LinkState,
    SiteDetail,
    SiteStats,
    StatsResponse,
    TsdbTargetState,
)
from netmon.collectors.budget import SeriesBudget
from netmon.collectors.clocks import SiteClocks
from netmon.collectors.drain import TsdbDrainer
from netmon.collectors.journal import Journal
from netmon.collectors.journal_db import SiteCounters
from netmon.collectors.live import LiveState
from netmon.collectors.site_counts import SiteCounts
from netmon.collectors.sitestore import RegistryStore
from netmon.config.registry import RegistrySite
from netmon.contract import ResultRecord

SHARED_DOWN = {"model": ErrorBody, "description": "the counts are shared (state.postgres) and PostgreSQL is "
               "unreachable; Retry-After says when to ask again"}


@dataclasses.dataclass(frozen=True)
class StatusSources:
    """What the status endpoints read; ``surge_provinces``: the provinces in surge now; ``counts``: the
    per-site counts (the journal's own, or with PostgreSQL every collector's: StorageError -> 503)."""

    sites: RegistryStore
    journal: Journal
    live: LiveState
    drainers: list[TsdbDrainer]
    metrics: CollectorRegistry
    surge_provinces: Callable[[], list[str]]
    clocks: SiteClocks
    budget: SeriesBudget
    require: Callable[[Role], Callable[..., Principal]]
    counts: SiteCounts


def _stats(src: StatusSources, site: RegistrySite, now_ns: int, every: dict[str, SiteCounters]) -> SiteStats:
    counters = every.get(site.id) or SiteCounters()
    live = src.live.sites.get(site.id)
    last_seen = live.last_seen_ns if live is not None else counters.last_seen_ns
    if src.counts.shared and counters.last_seen_ns is not None:  # another collector may have seen it later
        last_seen = max(last_seen or 0, counters.last_seen_ns)
    return SiteStats(site_id=site.id, name=site.name, province=site.province, district=site.district,
                     accepted=counters.accepted, duplicate=counters.duplicate, rejected=counters.rejected,
                     agent_dropped_total=counters.dropped_total, last_seen_ns=last_seen,
                     last_report_age_seconds=src.live.last_report_age_seconds(site.id, now_ns),
                     tsdb_points_set_aside=sum(n for (_, s), n in src.journal.set_aside.items() if s == site.id),
                     clock_offset_seconds=src.clocks.offset(site.id), clock_off=src.clocks.off(site.id),
                     unplanned_series=src.budget.unplanned(site.id))


def _latest(record: ResultRecord) -> LatestResult:
    return LatestResult(probe=record.probe, link=record.link, target=record.target, status=record.status,
                        reason=record.reason, time_ns=record.time_ns, values=dict(record.values))


def make_router(src: StatusSources) -> APIRouter:
    router = APIRouter()
    viewer = [Depends(src.require(Role.VIEWER))]

    @router.get("/healthz", response_model=Health, tags=["status"], summary="Liveness: the collector serves (no token)")
    async def healthz() -> Health:
        return Health(status="ok")

    @router.get("/metrics", dependencies=viewer, tags=["status"], summary="Prometheus metrics", response_class=Response,
                responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "text exposition format"}})
    async def metrics() -> Response:
        return Response(generate_latest(src.metrics), media_type=CONTENT_TYPE_LATEST)

    @router.get("/api/v1/stats", response_model=StatsResponse, tags=["status"], dependencies=viewer,
                responses={503: SHARED_DOWN},
                summary="Per-site counts (accepted, duplicate, rejected, agent-dropped) and last seen")
    async def stats() -> StatsResponse:
        now_ns = time.time_ns()
        every = await src.counts.site_counters()
        sites = [_stats(src, site, now_ns, every) for site in src.sites.registry.sites]
        counters = every.values()
        targets = [TsdbTargetState(name=d.target, up=d.available, write_lag_seconds=d.lag_seconds(),
                                   points_written=d.points_written, points_set_aside=sum(d.points_set_aside().values()),
                                   write_errors=d.write_errors) for d in src.drainers]
        totals = CollectorTotals(
            accepted=sum(c.accepted for c in counters), duplicate=sum(c.duplicate for c in counters),
            rejected=sum(c.rejected for c in counters), journal_pending_results=src.journal.pending,
            tsdb_write_lag_seconds=max((t.write_lag_seconds for t in targets), default=0.0),
            tsdb_up=all(t.up for t in targets), surge_provinces=src.surge_provinces(), tsdb_targets=targets,
            sites_clock_off=[s for s in src.clocks.sites_off() if src.sites.site(s) is not None])
        return StatsResponse(totals=totals, sites=sites)

    @router.get("/api/v1/sites/{site_id}", response_model=SiteDetail, tags=["status"], dependencies=viewer,
                responses={404: {"model": ErrorBody, "description": "no such site in the registry"}, 503: SHARED_DOWN},
                summary="One site: counts, last seen, latest values per link")
    async def site_detail(site_id: str) -> SiteDetail:
        site = src.sites.site(site_id)
        if site is None:
            raise HTTPException(404, f"site {site_id!r} is not in the registry")
        base = _stats(src, site, time.time_ns(), await src.counts.site_counters())
        links = []
        for link in site.links:
            figures = src.live.figures(site, link.name)
            links.append(LinkState(name=link.name, kind=link.kind, contracted_bps=link.contracted_bps,
                                   rtt_seconds=figures.rtt_seconds, loss_ratio=figures.loss_ratio,
                                   utilisation_ratio=figures.utilisation_ratio, updated_ns=figures.updated_ns,
                                   results=[_latest(r) for r in src.live.link_results(site.id, link.name)]))
        known = {link.name for link in site.links}
        live = src.live.sites.get(site.id)
        other = [_latest(r) for (_, name, _), r in sorted(live.results.items()) if name not in known] if live else []
        return SiteDetail(**base.model_dump(), links=links, other_results=other)

    return router
