"""``create_app``: the collector's FastAPI application, and where other parts plug in.

Another part of netmon (alerting, readiness) adds itself with one line in
``default_extensions`` below: an extension is ``fn(app, core)`` that may
``app.include_router(...)`` and ``core.sinks.register(...)``. Tests and tools can pass
their own with ``create_app(config, extensions=[...])``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.requests import Request
from starlette.responses import JSONResponse

from netmon.collectors import agent_config, ingest, status_api
from netmon.collectors.core import CollectorCore
from netmon.collectors.http_errors import ApiError
from netmon.collectors.settings import ServiceSettings
from netmon.config.central import CentralConfig
from netmon.contract import BATCH_ADAPTER

log = logging.getLogger("netmon.collector")
Extension = Callable[[FastAPI, CollectorCore], None]


def default_extensions() -> list[Extension]:
    """Parts every ``netmon collector serve`` runs with — one line each, imported here so the
    collector's own tests do not depend on them."""
    from netmon.alerting.service import extension as alerting
    from netmon.dashboards.incident_metrics import extension as incident_metrics  # netmon_alerts_firing
    from netmon.dashboards.readiness.api import extension as readiness  # GET /api/v1/readiness

    return [alerting, readiness, incident_metrics]


def create_app(config: CentralConfig, settings: ServiceSettings | None = None, *, config_file: str | None = None,
               extensions: Sequence[Extension] | None = None) -> FastAPI:
    core = CollectorCore(config, settings, config_file)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await core.start()
        try:
            yield
        finally:
            await core.stop()

    app = FastAPI(title="netmon collector", version="1",
                  description="Central collector of netmon: result ingest, site status, agent configuration.",
                  lifespan=lifespan)
    app.state.core = core
    app.include_router(ingest.router)
    app.include_router(agent_config.router)
    app.include_router(status_api.router)

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error; see the collector's log"}, status_code=500)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(Exception, internal_error)
    _install_openapi(app)
    for extension in default_extensions() if extensions is None else extensions:
        extension(app, core)
    return app


def _install_openapi(app: FastAPI) -> None:
    """Add the wire contract's schemas (the ingest body is read raw, so FastAPI cannot infer them)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            components = schema.setdefault("components", {})
            batch = BATCH_ADAPTER.json_schema(ref_template="#/components/schemas/{model}")
            schemas = components.setdefault("schemas", {})
            for name, definition in batch.pop("$defs", {}).items():
                schemas.setdefault(name, definition)
            schemas["ResultBatch"] = batch
            components.setdefault("securitySchemes", {})["siteToken"] = {
                "type": "http", "scheme": "bearer", "description": "site token from 'netmon sites enrol'"}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
