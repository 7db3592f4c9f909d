"""``GET /api/v1/agents/{site_id}/config``: the site's probe plan from the registry, with go-live surge.

The response carries an ETag; an agent polling with ``If-None-Match`` gets 304 while nothing
changed. The surge itself (which provinces, which options) is ``collectors/surge.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from netmon.collectors.api_models import ErrorBody
from netmon.collectors.auth import Authenticator, bearer_token
from netmon.collectors.surge import plan_for
from netmon.config.central import SurgeConfig
from netmon.config.site import ProbePlan
from netmon.errors import Forbidden


def make_router(auth: Authenticator, surge: Callable[[], SurgeConfig | None]) -> APIRouter:
    """``surge``: the surge section as last (re)loaded."""
    router = APIRouter()

    @router.get(
        "/api/v1/agents/{site_id}/config", response_model=ProbePlan, tags=["agents"],
        summary="The site's probe plan (site token); ETag / If-None-Match supported",
        responses={304: {"description": "unchanged since the ETag sent in If-None-Match"},
                   401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 404: {"model": ErrorBody}},
        openapi_extra={"security": [{"siteToken": []}]})
    async def agent_config(site_id: str, request: Request) -> Response:
        site, _ = auth.site_for(bearer_token(request.headers.get("authorization")))
        if site.id != site_id:
            raise Forbidden(f"the token belongs to site {site.id!r}, not {site_id!r}")
        plan, surged = plan_for(site, surge())
        # defaults left out: the agent re-validates the plan and fills them, and the line may be thin
        body = json.dumps(plan.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False,
                          sort_keys=True).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "X-Netmon-Surge": "on" if surged else "off", "Cache-Control": "no-cache"}
        match = request.headers.get("if-none-match", "")
        if etag in {tag.strip() for tag in match.split(",")} or match.strip() == "*":
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    return router
