"""HTTP API of the alerting engine, mounted on the collector:

    GET    /api/v1/incidents?state=open|firing|pending|resolved|all&team=&site=&limit=
    GET    /api/v1/incidents/{id}
    POST   /api/v1/incidents/{id}/ack        {"by": "...", "comment": "..."}     (admin token)
    GET    /api/v1/silences?all=false
    POST   /api/v1/silences                  {"site": "...", "duration": "2h", "reason": "..."} (admin token)
    DELETE /api/v1/silences/{id}                                                  (admin token)

Reading is open like Alertmanager's UI (the collector listens on the NOC network);
changing anything needs the admin token (``alerting.auth``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from netmon.alerting.auth import AdminToken
from netmon.alerting.engine import AlertEngine
from netmon.alerting.model import Incident, Silence
from netmon.config.alerting import MAX_SILENCE_SECONDS
from netmon.config.units import PositiveSeconds
from netmon.errors import IncidentClosed, IncidentNotFound

StateFilter = Literal["open", "firing", "pending", "resolved", "all"]
# SQLite row ids are signed 64-bit: a larger number in the path is a 422, not a storage error.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: Annotated[str, Field(max_length=100)] | None = None
    comment: Annotated[str, Field(max_length=500)] | None = None


class SilenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str | None = None
    rule: str | None = None
    team: str | None = None
    upstream: str | None = None
    target: str | None = None
    link: str | None = None
    province: str | None = None
    duration: PositiveSeconds = Field(le=MAX_SILENCE_SECONDS, description="how long: 2h, 1h30m, 7d (at most 366d)")
    reason: str = Field(min_length=1, max_length=500)
    by: Annotated[str, Field(max_length=100)] | None = None

    @model_validator(mode="after")
    def _some_matcher(self) -> SilenceRequest:
        if not self.matchers():
            raise ValueError("give at least one of site, rule, team, upstream, target, link, province")
        return self

    def matchers(self) -> dict[str, str]:
        fields = {"site": self.site, "alertname": self.rule, "team": self.team, "upstream": self.upstream,
                  "target": self.target, "link": self.link, "province": self.province}
        return {k: v for k, v in fields.items() if v}


class IncidentList(BaseModel):
    incidents: list[Incident]


class SilenceList(BaseModel):
    silences: list[Silence]


def incidents_router(engine: AlertEngine, admin: AdminToken) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["alerting"])

    def require_admin(request: Request) -> str:
        if not admin.configured:
            raise HTTPException(403, "acknowledging and silencing need alerting.admin_token_file on the collector")
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not admin.check(token.strip()):
            raise HTTPException(401, "missing or wrong admin token (Authorization: Bearer <token>)",
                                headers={"WWW-Authenticate": 'Bearer realm="netmon-admin"'})
        return "admin"

    admin_only = Depends(require_admin)

    @router.get("/incidents", response_model=IncidentList)
    def list_incidents(state: StateFilter = "open", team: str | None = None, site: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> Any:
        return {"incidents": engine.incidents(state=state, team=team, site=site, limit=limit)}

    @router.get("/incidents/{incident_id}", response_model=Incident)
    def get_incident(incident_id: RowId) -> Any:
        try:
            return engine.incident(incident_id)
        except IncidentNotFound:
            raise HTTPException(404, f"no incident {incident_id}") from None

    @router.post("/incidents/{incident_id}/ack", response_model=Incident)
    def ack(incident_id: RowId, body: AckRequest | None = None, _: str = admin_only) -> Any:
        body = body or AckRequest()
        try:
            return engine.ack(incident_id, by=body.by, comment=body.comment)
        except IncidentNotFound:
            raise HTTPException(404, f"no incident {incident_id}") from None
        except IncidentClosed as exc:
            raise HTTPException(409, str(exc)) from None

    @router.get("/silences", response_model=SilenceList)
    def list_silences(all: bool = False) -> Any:
        return {"silences": engine.silences(active_only=not all)}

    @router.post("/silences", response_model=Silence, status_code=201)
    def add_silence(body: SilenceRequest, _: str = admin_only) -> Any:
        return engine.silence(body.matchers(), body.duration, body.reason, by=body.by)

    @router.delete("/silences/{silence_id}", status_code=204)
    def delete_silence(silence_id: RowId, _: str = admin_only) -> Response:
        if not engine.unsilence(silence_id):
            raise HTTPException(404, f"no active silence {silence_id}")
        return Response(status_code=204)

    return router
