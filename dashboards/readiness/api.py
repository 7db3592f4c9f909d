"""``GET /api/v1/readiness``: the readiness report from the running collector.

``ReadinessExtension`` is what ``netmon collector serve`` installs; the router reads the
collector's own configuration and its loaded site registry (through ``CollectorHost``), so the
API and ``netmon readiness report --config`` give the same answer. It runs InfluxDB queries:
only for a viewer token or above (``CollectorHost.require``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from starlette.responses import Response

from netmon.collectors.abc import Role
from netmon.config.central import CentralConfig
from netmon.config.registry import Registry
from netmon.dashboards.readiness.model import ReadinessReport
from netmon.dashboards.readiness.render import render
from netmon.dashboards.readiness.report import build_report
from netmon.errors import StorageError, TSDBUnavailable

if TYPE_CHECKING:
    from netmon.collectors.abc import CollectorHost

MEDIA = {"csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8"}


def make_router(config: Callable[[], CentralConfig], registry: Callable[[], Registry],
                require: Callable[[Role], Any]) -> APIRouter:
    """``require``: the collector's ``CollectorHost.require``."""
    router = APIRouter()

    @router.get(
        "/api/v1/readiness", tags=["readiness"], response_model=ReadinessReport,
        dependencies=[Depends(require(Role.VIEWER))],
        summary="Go-live readiness of a province's communes",
        responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["html"]: {}},
                         "description": "JSON by default; CSV (one row per commune) or a self-contained HTML page"},
                   404: {"description": "no site of that province in the registry"},
                   503: {"description": "InfluxDB is not configured or does not answer"}})
    def readiness(
        province: Annotated[str, Query(min_length=1, max_length=100, description="province name as in the registry")],
        format: Annotated[Literal["json", "csv", "html"], Query(description="response format")] = "json",
    ) -> Any:
        central, sites = config(), registry()
        provinces = sorted({s.province for s in sites.sites})
        if province not in provinces:
            raise HTTPException(404, f"no site of province {province!r} in the registry; "
                                     f"provinces: {', '.join(provinces) or 'none'}")
        if central.query_influx is None:
            raise HTTPException(503, "the readiness report reads InfluxDB, and this collector has none configured")
        try:
            report = build_report(central.query_influx, province, central.readiness, registry=sites)
        except TSDBUnavailable as exc:
            raise HTTPException(503, str(exc)) from None
        except StorageError as exc:
            raise HTTPException(503, f"InfluxDB refused a readiness query: {exc}") from None
        if format == "json":
            return report
        return Response(render(report, format), media_type=MEDIA[format])

    return router


class ReadinessExtension:
    """``GET /api/v1/readiness`` inside the collector (``collectors.abc.Extension``)."""

    name = "readiness"

    def install(self, host: CollectorHost, app: FastAPI) -> None:
        app.include_router(make_router(lambda: host.config, host.site_registry, host.require))

    async def aclose(self) -> None:
        """Nothing to release: each request opens and closes its own InfluxDB client."""
