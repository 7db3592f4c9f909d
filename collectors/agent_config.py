"""``GET /api/v1/agents/{site_id}/config``: the site's probe plan from the registry, with go-live surge.

Surge (``surge:`` in central.yaml, applied with SIGHUP): for the listed provinces, until
``until``, each kind's options in ``surge.probes`` are merged over the site plan's own. The
response carries an ETag; an agent polling with ``If-None-Match`` gets 304 while nothing changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from netmon.collectors.api_models import ErrorBody
from netmon.collectors.auth import authenticate
from netmon.collectors.http_errors import ApiError
from netmon.config.central import SurgeConfig
from netmon.config.registry import RegistrySite
from netmon.config.site import ProbePlan

if TYPE_CHECKING:
    from netmon.collectors.core import CollectorCore

router = APIRouter()


def surge_on(surge: SurgeConfig | None, province: str, now: dt.datetime | None = None) -> bool:
    if surge is None or province not in surge.provinces:
        return False
    if surge.until is None:
        return True
    until = surge.until if surge.until.tzinfo else surge.until.replace(tzinfo=dt.UTC)
    return (now or dt.datetime.now(dt.UTC)) < until


def plan_for(site: RegistrySite, surge: SurgeConfig | None) -> tuple[ProbePlan, bool]:
    if site.plan is None:
        raise ApiError(404, f"the registry holds no probe plan for site {site.id}; the agent keeps its local plan",
                       reason="no_plan")
    if not surge_on(surge, site.province):
        return site.plan, False
    assert surge is not None
    probes = {kind: dict(options) for kind, options in site.plan.probes.items()}
    for kind, options in surge.probes.items():
        probes[kind] = {**probes.get(kind, {}), **options}
    return site.plan.model_copy(update={"probes": probes}), True


@router.get(
    "/api/v1/agents/{site_id}/config", response_model=ProbePlan, tags=["agents"],
    summary="The site's probe plan (site token); ETag / If-None-Match supported",
    responses={304: {"description": "unchanged since the ETag sent in If-None-Match"},
               401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 404: {"model": ErrorBody}},
    openapi_extra={"security": [{"siteToken": []}]})
async def agent_config(site_id: str, request: Request) -> Response:
    core: CollectorCore = request.app.state.core
    try:
        site = authenticate(core, request)
        if site.id != site_id:
            raise ApiError(403, f"the token belongs to site {site.id!r}, not {site_id!r}", reason="forbidden")
        plan, surged = plan_for(site, core.surge)
    except ApiError as exc:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)
    # defaults left out: the agent re-validates the plan and fills them, and the line may be thin
    body = json.dumps(plan.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False, sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "X-Netmon-Surge": "on" if surged else "off", "Cache-Control": "no-cache"}
    match = request.headers.get("if-none-match", "")
    if etag in {tag.strip() for tag in match.split(",")} or match.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
