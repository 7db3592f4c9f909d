"""``create_app``: the collector's FastAPI application, with the extensions it is given.

The collector names no plug-in itself: the program's wiring (``netmon collector serve``,
``netmon/cli/collector_cmd.py``) builds the list (alerting, readiness) and passes it here;
tests pass their own. Each extension implements ``collectors.abc.Extension`` and sees the
collector only as a ``CollectorHost``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from netmon.collectors import agent_config, ingest_api, status_api
from netmon.collectors.abc import Extension
from netmon.collectors.core import CollectorCore
from netmon.collectors.http_errors import install_error_handlers
from netmon.collectors.settings import ServiceSettings
from netmon.config.central import CentralConfig
from netmon.contract import BATCH_ADAPTER


def create_app(config: CentralConfig, settings: ServiceSettings | None = None, *, config_file: str | None = None,
               extensions: Sequence[Extension] = ()) -> FastAPI:
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
    app.include_router(ingest_api.make_router(core.ingest))
    app.include_router(agent_config.make_router(core.auth, core.current_surge))
    app.include_router(status_api.make_router(status_api.StatusSources(
        core.sites, core.journal, core.live, core.drainers, core.metrics.registry, core.surge_provinces)))
    install_error_handlers(app)
    _install_openapi(app)
    core.install(app, extensions)
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
