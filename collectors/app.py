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

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from starlette.responses import HTMLResponse, JSONResponse

from netmon.collectors import agent_config, ingest_api, status_api, tokens_api
from netmon.collectors.abc import Extension, Role
from netmon.collectors.core import CollectorCore
from netmon.collectors.http_errors import install_error_handlers
from netmon.collectors.ports import install_port_split
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

    # /docs and /openapi.json are served below, behind the viewer role, not by FastAPI in the open
    app = FastAPI(title="netmon collector", version="1",
                  description="Central collector of netmon: result ingest, site status, agent configuration.",
                  lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(ingest_api.make_router(core.ingest))
    app.include_router(agent_config.make_router(core.auth, core.current_surge))
    app.include_router(status_api.make_router(status_api.StatusSources(
        core.sites, core.journal, core.live, core.drainers, core.metrics.registry, core.surge_provinces,
        core.clocks, core.budget, core.require, core.counts)))
    app.include_router(tokens_api.make_router(core.tokens, core.require))
    install_error_handlers(app)
    _install_openapi(app)
    _install_docs(app, core.require(Role.VIEWER))
    core.install(app, extensions)
    viewer = config.listen.viewer
    if viewer is not None:
        install_port_split(app, viewer_port=viewer.port)
    return app


def _install_docs(app: FastAPI, viewer: Any) -> None:
    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(viewer)])
    async def openapi_document() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(viewer)])
    async def swagger_ui() -> HTMLResponse:
        # the browser asks for the token (HTTP Basic, the token as password) and sends it again for the document
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - API")


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
            schemes = components.setdefault("securitySchemes", {})
            schemes["siteToken"] = {"type": "http", "scheme": "bearer",
                                    "description": "site token from 'netmon sites enrol'"}
            schemes["roleToken"] = {"type": "http", "scheme": "bearer", "description": (
                "viewer, operator or admin token from 'netmon tokens issue' (docs/security.md)")}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
